//! Turns the Rust bindings bindgen wrote into C static assertions, so the
//! C compiler can confirm them against the headers lwIP is built with.
//!
//! The bindings are read as tokens (formatting does not matter): layout
//! tests (`["Size of X"][size_of::<X>() - 24usize]`), `pub const`, `pub
//! type`, and the functions and variables of `extern "C"` blocks. Each
//! becomes a `_Static_assert` whose message starts with [`MARK`] and the
//! check's index, so a failure can be traced back to what the bindings say.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Starts the message of every assertion (then `[index] `).
pub const MARK: &str = "lwip-tap-check: ";
/// Starts the messages of the value probe (then the bit number).
const BIT_MARK: &str = "lwip-tap-bit: ";

/// One static assertion: something the bindings state that C must agree with.
pub struct Check {
    /// The C condition.
    pub condition: String,
    /// What the bindings say, e.g. `struct pbuf: size 24 in the bindings`.
    pub claim: String,
    /// For a number: the C expression that must have that value.
    pub value: Option<String>,
    /// Whether the bindings' number is negative.
    pub negative: bool,
}

/// The checks for a bindings file, and what could not be checked (why).
pub struct Checks {
    pub checks: Vec<Check>,
    pub skipped: Vec<String>,
}

// ---- what the bindings say, in C ----

/// What the bindings declare that C must agree with, in file order.
pub enum Item {
    Size(String, u64),
    Align(String, u64),
    Offset(String, String, u64),
    /// `None`: not an integer (a string, a float), so not checked.
    Const(String, Option<String>),
    Typedef(String, Ty),
    Function(String, Vec<Ty>, bool, Ty),
    Var(String, Ty),
}

/// A Rust type from the bindings, as far as C needs it.
#[derive(Clone)]
pub enum Ty {
    /// A primitive or a name the bindings define.
    Named(String),
    Ptr(bool, Box<Ty>),
    Array(Box<Ty>, String),
    /// A function pointer: parameters, variadic, return type.
    FnPtr(Vec<Ty>, bool, Box<Ty>),
    Void,
    /// Something with no C spelling (a bindgen helper type).
    Other(String),
}

/// How the C translation unit names things: which names are struct, union
/// or enum tags (spelt `struct X` in C), and every identifier it uses.
pub struct CNames {
    tags: HashMap<String, &'static str>,
    idents: HashSet<String>,
}

impl CNames {
    /// Reads preprocessed C (`-E` output).
    pub fn new(preprocessed: &str) -> CNames {
        let mut tokens = Vec::new();
        for line in preprocessed
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
        {
            let mut chars = line.char_indices().peekable();
            while let Some((start, c)) = chars.next() {
                if c.is_ascii_digit() {
                    // A number (0x1fUL): not a name.
                    while chars
                        .peek()
                        .is_some_and(|&(_, c)| c.is_ascii_alphanumeric())
                    {
                        chars.next();
                    }
                    tokens.push("0");
                } else if c.is_ascii_alphabetic() || c == '_' {
                    let mut end = start + 1;
                    while let Some(&(i, c)) = chars.peek() {
                        if !(c.is_ascii_alphanumeric() || c == '_') {
                            break;
                        }
                        end = i + 1;
                        chars.next();
                    }
                    tokens.push(&line[start..end]);
                } else if c == '"' || c == '\'' {
                    // Skip literals, so their text is not taken for names.
                    let mut escaped = false;
                    for (_, d) in chars.by_ref() {
                        if escaped {
                            escaped = false;
                        } else if d == '\\' {
                            escaped = true;
                        } else if d == c {
                            break;
                        }
                    }
                    tokens.push("\"");
                } else if !c.is_whitespace() {
                    tokens.push(&line[start..start + c.len_utf8()]);
                }
            }
        }
        let mut tags = HashMap::new();
        for (i, keyword) in tokens.iter().enumerate() {
            let kind = match *keyword {
                "struct" => "struct",
                "union" => "union",
                "enum" => "enum",
                _ => continue,
            };
            let mut j = i + 1;
            // `struct __attribute__((packed)) name`
            while tokens.get(j).is_some_and(|t| t.starts_with("__attribute")) {
                j += 1;
                let mut depth = 0;
                while let Some(t) = tokens.get(j) {
                    j += 1;
                    match *t {
                        "(" => depth += 1,
                        ")" => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
            }
            if let Some(name) = tokens.get(j).filter(|t| is_c_ident(t)) {
                tags.insert(name.to_string(), kind);
            }
        }
        let idents = tokens
            .into_iter()
            .filter(|t| is_c_ident(t))
            .map(str::to_string)
            .collect();
        CNames { tags, idents }
    }

    /// The C spelling of a type the bindings name `name`: `struct name`
    /// (or union, enum) if C has such a tag, else the typedef `name`.
    fn ty(&self, name: &str) -> Option<String> {
        match self.tags.get(name) {
            Some(kind) => Some(format!("{kind} {name}")),
            None => self.idents.contains(name).then(|| name.to_string()),
        }
    }

    /// The C name of a field: bindgen appends `_` to names that are Rust
    /// keywords (`type` becomes `type_`).
    fn field(&self, name: &str) -> Option<String> {
        if self.idents.contains(name) {
            return Some(name.to_string());
        }
        let c = name.strip_suffix('_')?;
        self.idents.contains(c).then(|| c.to_string())
    }
}

fn is_c_ident(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
}

/// The C spelling of a primitive Rust type bindgen uses.
fn c_primitive(name: &str) -> Option<&'static str> {
    Some(match name {
        "c_void" => "void",
        "c_char" => "char",
        "c_schar" => "signed char",
        "c_uchar" => "unsigned char",
        "c_short" => "short",
        "c_ushort" => "unsigned short",
        "c_int" => "int",
        "c_uint" => "unsigned int",
        "c_long" => "long",
        "c_ulong" => "unsigned long",
        "c_longlong" => "long long",
        "c_ulonglong" => "unsigned long long",
        "c_float" | "f32" => "float",
        "c_double" | "f64" => "double",
        "u8" => "uint8_t",
        "i8" => "int8_t",
        "u16" => "uint16_t",
        "i16" => "int16_t",
        "u32" => "uint32_t",
        "i32" => "int32_t",
        "u64" => "uint64_t",
        "i64" => "int64_t",
        "usize" => "size_t",
        "isize" => "ptrdiff_t",
        "bool" => "_Bool",
        _ => return None,
    })
}

/// Writes `ty` as a C declaration of `inner` (empty for a type name),
/// `konst` if `ty` itself is const-qualified. Err: a name C does not know.
fn c_decl(ty: &Ty, inner: &str, konst: bool, names: &CNames) -> Result<String, String> {
    let qualifier = if konst { "const " } else { "" };
    match ty {
        Ty::Void => Ok(format!("{qualifier}void {inner}").trim_end().to_string()),
        Ty::Named(name) => {
            let c = match c_primitive(name) {
                Some(c) => c.to_string(),
                None => names.ty(name).ok_or_else(|| name.clone())?,
            };
            Ok(format!("{qualifier}{c} {inner}").trim_end().to_string())
        }
        Ty::Ptr(pointee_const, to) => {
            let star = if konst { "*const " } else { "*" };
            let mut inner = format!("{star}{inner}");
            if matches!(**to, Ty::Array(..)) {
                inner = format!("({inner})");
            }
            c_decl(to, inner.trim_end(), *pointee_const, names)
        }
        Ty::Array(element, len) => c_decl(element, &format!("{inner}[{len}]"), konst, names),
        Ty::FnPtr(params, variadic, ret) => {
            let star = if konst { "*const " } else { "*" };
            let params = c_params(params, *variadic, names)?;
            c_decl(ret, &format!("({star}{inner})({params})"), false, names)
        }
        Ty::Other(text) => Err(text.clone()),
    }
}

fn c_params(params: &[Ty], variadic: bool, names: &CNames) -> Result<String, String> {
    let mut list = params
        .iter()
        .map(|p| c_decl(p, "", false, names))
        .collect::<Result<Vec<_>, _>>()?;
    if variadic {
        list.push("...".to_string());
    }
    Ok(if list.is_empty() {
        "void".to_string()
    } else {
        list.join(", ")
    })
}

/// The checks for `items`, in file order.
pub fn checks(items: &[Item], names: &CNames) -> Checks {
    let mut checks = Vec::new();
    let mut skipped = Vec::new();
    let number = |condition: String, claim: String, value: String, negative: bool| Check {
        condition,
        claim,
        value: Some(value),
        negative,
    };
    let mut types = Vec::new();
    for item in items {
        match item {
            Item::Size(ty, _) | Item::Align(ty, _) | Item::Offset(ty, ..)
                if ty.contains("__bindgen") =>
            {
                // bindgen's names for anonymous types: C cannot name them.
            }
            Item::Offset(_, field, _) if field.starts_with("__bindgen") => {}
            Item::Size(ty, n) | Item::Align(ty, n) | Item::Offset(ty, _, n) => {
                let Some(c_ty) = names.ty(ty) else {
                    skipped.push(format!("{ty}: no such struct, union or typedef in C"));
                    continue;
                };
                let (expr, what) = match item {
                    Item::Size(..) => (format!("sizeof({c_ty})"), "size".to_string()),
                    Item::Align(..) => (format!("_Alignof({c_ty})"), "alignment".to_string()),
                    Item::Offset(_, field, _) => match names.field(field) {
                        Some(f) => (
                            format!("offsetof({c_ty}, {f})"),
                            format!("field {f} at offset"),
                        ),
                        None => {
                            skipped.push(format!("{c_ty}.{field}: no such field in C"));
                            continue;
                        }
                    },
                    _ => unreachable!(),
                };
                checks.push(number(
                    format!("{expr} == {n}"),
                    format!("{c_ty}: {what} {n} in the bindings"),
                    expr,
                    false,
                ));
            }
            Item::Const(name, None) => {
                // Strings and floats cannot appear in an integer constant
                // expression, so _Static_assert cannot compare them.
                skipped.push(format!("{name}: not an integer constant"));
            }
            Item::Const(name, Some(value)) => checks.push(number(
                format!("({name}) == ({value})"),
                format!("constant {name}: {value} in the bindings"),
                format!("({name})"),
                value.starts_with("(-") || value.starts_with('-'),
            )),
            Item::Typedef(name, ty) => {
                let Some(c_name) = names.ty(name) else {
                    skipped.push(format!("{name}: not a type C knows"));
                    continue;
                };
                let condition = match ty {
                    // Integers (and enums bound as integers): size and
                    // signedness, as not every compiler calls an enum
                    // compatible with its integer type.
                    Ty::Named(n) if c_primitive(n).is_some_and(|p| p != "void") => {
                        let p = c_primitive(n).unwrap_or_default();
                        Ok((
                            format!(
                                "sizeof({c_name}) == sizeof({p}) && \
                                 (({c_name})-1 > ({c_name})0) == (({p})-1 > ({p})0)"
                            ),
                            p.to_string(),
                        ))
                    }
                    _ => c_decl(ty, "", false, names).map(|c_ty| {
                        (
                            format!("__builtin_types_compatible_p({c_name}, {c_ty})"),
                            c_ty,
                        )
                    }),
                };
                types.push((format!("type {c_name}"), condition));
            }
            Item::Function(name, params, variadic, ret) => {
                let ty = c_params(params, *variadic, names)
                    .and_then(|params| c_decl(ret, &format!("({params})"), false, names));
                let condition = ty.map(|ty| {
                    (
                        format!("__builtin_types_compatible_p(__typeof__({name}), {ty})"),
                        ty,
                    )
                });
                types.push((format!("function {name}"), condition));
            }
            Item::Var(name, ty) => {
                let condition = c_decl(ty, "", false, names).map(|ty| {
                    (
                        format!("__builtin_types_compatible_p(__typeof__({name}), {ty})"),
                        ty,
                    )
                });
                types.push((format!("variable {name}"), condition));
            }
        }
        for (what, condition) in types.drain(..) {
            match condition {
                Ok((condition, c_ty)) => checks.push(Check {
                    condition,
                    claim: format!("{what}: {c_ty} in the bindings"),
                    value: None,
                    negative: false,
                }),
                Err(rust) => skipped.push(format!("{what}: {rust} has no C spelling")),
            }
        }
    }
    Checks { checks, skipped }
}

/// The C file asserting `checks` after `prelude` (the #includes).
pub fn source(checks: &Checks, prelude: &str) -> String {
    let mut c = format!(
        "/* Generated by build.rs from the Rust bindings: each assertion states\n \
         * what the bindings say; C must agree. */\n{prelude}\n"
    );
    for (i, check) in checks.checks.iter().enumerate() {
        let claim = check.claim.replace(['"', '\\'], "'");
        let _ = writeln!(
            c,
            "_Static_assert({},\n               \"{MARK}[{i}] {claim}\");",
            check.condition
        );
    }
    if !checks.skipped.is_empty() {
        c.push_str("\n/* Not checked:\n");
        for line in &checks.skipped {
            let _ = writeln!(c, " * {}", line.replace("*/", "* /"));
        }
        c.push_str(" */\n");
    }
    c
}

/// The index of the first failed check in the compiler's `stderr`, and how
/// many failed.
pub fn failures(stderr: &str) -> Option<(usize, usize)> {
    let indexes = |line: &str| {
        let rest = &line[line.find(MARK)? + MARK.len()..];
        rest.strip_prefix('[')?
            .split(']')
            .next()?
            .parse::<usize>()
            .ok()
    };
    let failed: Vec<usize> = stderr.lines().filter_map(indexes).collect();
    let distinct: HashSet<_> = failed.iter().collect();
    Some((*failed.first()?, distinct.len()))
}

/// A C file whose failing assertions spell out the value of `expr` in
/// binary (bit i set: the assertion for bit i fails); see [`probed_value`].
pub fn value_probe_source(expr: &str, prelude: &str) -> String {
    let mut c = format!("/* Generated by build.rs: the bits of {expr}. */\n{prelude}\n");
    for bit in 0..64 {
        let _ = writeln!(
            c,
            "_Static_assert(!(((unsigned long long)({expr}) >> {bit}) & 1), \"{BIT_MARK}{bit}\");"
        );
    }
    c
}

/// The value the compiler's `stderr` for [`value_probe_source`] shows.
pub fn probed_value(stderr: &str, negative: bool) -> String {
    let mut value = 0u64;
    for line in stderr.lines().filter(|l| l.contains("error")) {
        let bit = line
            .find(BIT_MARK)
            .and_then(|at| {
                line[at + BIT_MARK.len()..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
            })
            .and_then(|digits| digits.parse::<u32>().ok());
        if let Some(bit) = bit.filter(|b| *b < 64) {
            value |= 1 << bit;
        }
    }
    if negative {
        (value as i64).to_string()
    } else {
        value.to_string()
    }
}

// ---- reading the bindings ----

/// A token of Rust source: identifiers/keywords, numbers, string literals
/// (kept with their quotes), and punctuation (`::`, `->`, `...` or one char).
#[derive(Clone, Debug, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == '"' || (c == 'b' && chars.get(i + 1) == Some(&'"')) {
            i += if c == 'b' { 2 } else { 1 };
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            // A float's fraction or exponent stays with its number.
            if c.is_ascii_digit() && chars.get(i) == Some(&'.') {
                i += 1;
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
            }
        } else if c == '\'' {
            // A lifetime ('static) or a char literal ('a').
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if chars.get(i) == Some(&'\'') {
                i += 1;
            }
        } else {
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            i += ["...", "::", "->"]
                .iter()
                .find(|p| rest.starts_with(*p))
                .map_or(1, |p| p.len());
        }
        if i > chars.len() {
            return Err(format!("line {line}: unterminated literal or comment"));
        }
        tokens.push(Token {
            text: chars[start..i].iter().collect(),
            line,
        });
    }
    Ok(tokens)
}

/// Reads the items bindgen writes: `pub const`, `pub type`, `pub struct`/
/// `union` (skipped; their layout tests are read), `impl` (skipped), layout
/// tests (`const _: () = { ... };`) and `extern "C"` blocks.
pub fn parse(source: &str) -> Result<Vec<Item>, String> {
    let mut parser = Parser {
        tokens: tokenize(source)?,
        pos: 0,
    };
    let mut items = Vec::new();
    parser.items(&mut items, false)?;
    Ok(items)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(|t| t.text.as_str())
    }

    fn peek_at(&self, n: usize) -> Option<&str> {
        self.tokens.get(self.pos + n).map(|t| t.text.as_str())
    }

    fn next(&mut self) -> Result<String, String> {
        let token = self.tokens.get(self.pos).ok_or("unexpected end of file")?;
        self.pos += 1;
        Ok(token.text.clone())
    }

    fn eat(&mut self, text: &str) -> bool {
        let found = self.peek() == Some(text);
        self.pos += usize::from(found);
        found
    }

    fn expect(&mut self, text: &str) -> Result<(), String> {
        if self.eat(text) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{text}`")))
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.tokens.get(self.pos) {
            Some(t) => format!("line {}: expected {wanted}, found `{}`", t.line, t.text),
            None => format!("expected {wanted} at the end of the file"),
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(t) if is_c_ident(t) => self.next(),
            _ => Err(self.unexpected("a name")),
        }
    }

    /// Skips from an opening bracket to just past its closing one.
    fn skip_group(&mut self) -> Result<(), String> {
        let open = self.next()?;
        let close = match open.as_str() {
            "{" => "}",
            "(" => ")",
            "[" => "]",
            "<" => ">",
            _ => return Err(format!("`{open}` is not a bracket")),
        };
        let mut depth = 1;
        while depth > 0 {
            let t = self.next()?;
            if t == open {
                depth += 1;
            } else if t == close {
                depth -= 1;
            }
        }
        Ok(())
    }

    fn skip_to(&mut self, text: &str) -> Result<(), String> {
        while self.next()? != text {}
        Ok(())
    }

    fn items(&mut self, items: &mut Vec<Item>, in_extern: bool) -> Result<(), String> {
        loop {
            match self.peek() {
                None if !in_extern => return Ok(()),
                Some("}") if in_extern => {
                    self.pos += 1;
                    return Ok(());
                }
                Some("#") => {
                    self.pos += 1;
                    self.eat("!");
                    self.skip_group()?;
                }
                Some("pub") => {
                    self.pos += 1;
                    if self.peek() == Some("(") {
                        self.skip_group()?; // pub(crate)
                    }
                    self.item(items)?;
                }
                Some("unsafe" | "extern") if !in_extern => {
                    self.eat("unsafe");
                    self.expect("extern")?;
                    if self.peek().is_some_and(|t| t.starts_with('"')) {
                        self.pos += 1;
                    }
                    self.expect("{")?;
                    self.items(items, true)?;
                }
                Some("impl") => {
                    while self.peek() != Some("{") {
                        self.next()?;
                    }
                    self.skip_group()?;
                }
                Some("const") if self.peek_at(1) == Some("_") => {
                    self.pos += 2;
                    self.skip_to("=")?;
                    self.expect("{")?;
                    while !self.eat("}") {
                        items.push(self.layout_test()?);
                    }
                    self.expect(";")?;
                }
                _ => return Err(self.unexpected("an item")),
            }
        }
    }

    /// An item after `pub`.
    fn item(&mut self, items: &mut Vec<Item>) -> Result<(), String> {
        match self.next()?.as_str() {
            "const" => {
                let name = self.ident()?;
                self.skip_to("=")?;
                let mut value = Vec::new();
                loop {
                    let t = self.next()?;
                    if t == ";" {
                        break;
                    }
                    value.push(t);
                }
                items.push(Item::Const(name, integer(&value)));
            }
            "type" => {
                let name = self.ident()?;
                if self.peek() == Some("<") {
                    self.skip_group()?;
                    self.skip_to(";")?;
                    return Ok(()); // generic: a bindgen helper
                }
                self.expect("=")?;
                let ty = self.ty()?;
                self.expect(";")?;
                items.push(Item::Typedef(name, ty));
            }
            "struct" | "union" => {
                self.ident()?;
                if self.peek() == Some("<") {
                    self.skip_group()?;
                }
                match self.peek() {
                    Some("{") => self.skip_group()?,
                    Some("(") => {
                        self.skip_group()?;
                        self.expect(";")?;
                    }
                    _ => self.expect(";")?,
                }
            }
            "use" => self.skip_to(";")?,
            "static" => {
                self.eat("mut");
                let name = self.ident()?;
                self.expect(":")?;
                let ty = self.ty()?;
                self.expect(";")?;
                items.push(Item::Var(name, ty));
            }
            "fn" => {
                let name = self.ident()?;
                let (params, variadic, ret) = self.signature()?;
                self.expect(";")?;
                items.push(Item::Function(name, params, variadic, ret));
            }
            other => return Err(format!("unexpected item `pub {other}`")),
        }
        Ok(())
    }

    /// `["Size of X"][... - 24usize];` and the like.
    fn layout_test(&mut self) -> Result<Item, String> {
        self.expect("[")?;
        let message = self.next()?;
        let message = message.trim_matches('"');
        self.expect("]")?;
        self.expect("[")?;
        let mut last_number = None;
        let mut depth = 1;
        while depth > 0 {
            let t = self.next()?;
            match t.as_str() {
                "[" => depth += 1,
                "]" => depth -= 1,
                _ if t.starts_with(|c: char| c.is_ascii_digit()) => last_number = Some(t),
                _ => {}
            }
        }
        self.expect(";")?;
        let n = last_number
            .and_then(|t| t.trim_end_matches("usize").parse::<u64>().ok())
            .ok_or_else(|| format!("no number in the layout test \"{message}\""))?;
        if let Some(ty) = message.strip_prefix("Size of ") {
            Ok(Item::Size(ty.to_string(), n))
        } else if let Some(ty) = message.strip_prefix("Alignment of ") {
            Ok(Item::Align(ty.to_string(), n))
        } else if let Some((ty, field)) = message
            .strip_prefix("Offset of field: ")
            .and_then(|f| f.split_once("::"))
        {
            Ok(Item::Offset(ty.to_string(), field.to_string(), n))
        } else {
            Err(format!("unknown layout test \"{message}\""))
        }
    }

    /// `(params) -> ret` of a function or function pointer.
    fn signature(&mut self) -> Result<(Vec<Ty>, bool, Ty), String> {
        self.expect("(")?;
        let (mut params, mut variadic) = (Vec::new(), false);
        while !self.eat(")") {
            if self.eat("...") {
                variadic = true;
            } else {
                if self.peek_at(1) == Some(":") {
                    self.pos += 2; // the parameter's name
                }
                params.push(self.ty()?);
            }
            if !self.eat(",") && self.peek() != Some(")") {
                return Err(self.unexpected("`,` or `)`"));
            }
        }
        let ret = if self.eat("->") { self.ty()? } else { Ty::Void };
        Ok((params, variadic, ret))
    }

    fn ty(&mut self) -> Result<Ty, String> {
        match self.peek() {
            Some("*") => {
                self.pos += 1;
                let konst = match self.next()?.as_str() {
                    "const" => true,
                    "mut" => false,
                    _ => return Err(self.unexpected("`const` or `mut`")),
                };
                Ok(Ty::Ptr(konst, Box::new(self.ty()?)))
            }
            Some("[") => {
                self.pos += 1;
                let element = self.ty()?;
                self.expect(";")?;
                let len = self.next()?.trim_end_matches("usize").to_string();
                self.expect("]")?;
                Ok(Ty::Array(Box::new(element), len))
            }
            Some("!") => {
                self.pos += 1;
                Ok(Ty::Void) // does not return
            }
            Some("(") => {
                self.pos += 1;
                self.expect(")")?;
                Ok(Ty::Void)
            }
            Some("unsafe" | "extern" | "fn") => {
                self.eat("unsafe");
                if self.eat("extern") && self.peek().is_some_and(|t| t.starts_with('"')) {
                    self.pos += 1;
                }
                self.expect("fn")?;
                let (params, variadic, ret) = self.signature()?;
                Ok(Ty::FnPtr(params, variadic, Box::new(ret)))
            }
            _ => {
                self.eat("::");
                let mut name = self.ident()?;
                while self.eat("::") {
                    name = self.ident()?;
                }
                if !self.eat("<") {
                    return Ok(Ty::Named(name));
                }
                let arg = self.ty()?;
                self.eat(",");
                self.expect(">")?;
                match (name.as_str(), arg) {
                    // A nullable function pointer.
                    ("Option", fn_ptr @ Ty::FnPtr(..)) => Ok(fn_ptr),
                    (name, _) => Ok(Ty::Other(format!("{name}<...>"))),
                }
            }
        }
    }
}

/// The value of a constant's tokens if they are a (negated) integer
/// literal, in C syntax.
fn integer(tokens: &[String]) -> Option<String> {
    let (negative, digits) = match tokens {
        [minus, n] if minus == "-" => (true, n),
        [n] => (false, n),
        _ => return None,
    };
    let value: u128 = if let Some(hex) = digits.strip_prefix("0x") {
        u128::from_str_radix(&hex.replace('_', ""), 16).ok()?
    } else {
        digits.replace('_', "").parse().ok()?
    };
    Some(match (negative, value) {
        // The most negative long long has no literal of its own.
        (true, v) if v > i64::MAX as u128 => format!("(-{}LL - 1)", v - 1),
        (true, v) => format!("-{v}"),
        (false, v) if v > i64::MAX as u128 => format!("{v}ULL"),
        (false, v) => v.to_string(),
    })
}
