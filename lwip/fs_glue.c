/*
 * lwIP's httpd file system, built from the unmodified upstream fs.c with one
 * change applied from outside. The pages compiled in (fsdata.c) carry HTTP
 * headers generated once, by lwIP 2.0.3d, so every answer said
 * `Server: lwIP/2.0.3d` whatever lwIP was compiled: a scanner saw the wrong
 * version. Here fs_open() hands httpd each page without its stored headers,
 * and httpd writes them itself (LWIP_HTTPD_DYNAMIC_HEADERS in lwipopts.h),
 * naming HTTPD_SERVER_AGENT, that is the LWIP_VERSION_STRING of the lwIP
 * headers this build used.
 *
 * The cargo feature `stock_lwip` (which defines LWIP_TAP_STOCK_LWIP) serves
 * the stored headers, as lwIP ships them.
 *
 * How: upstream's fs_open is renamed while fs.c is included, and the
 * fs_open below (the one httpd calls) opens the page through it.
 */
#define fs_open lwip_tap_fs_open_stored
#include "apps/http/fs.c"
#undef fs_open

/* The real name, whose declaration the rename above hid. */
err_t fs_open(struct fs_file *file, const char *name);

err_t
fs_open(struct fs_file *file, const char *name)
{
  err_t err = lwip_tap_fs_open_stored(file, name);
#ifndef LWIP_TAP_STOCK_LWIP
  if (err == ERR_OK && (file->flags & FS_FILE_FLAGS_HEADER_INCLUDED) != 0) {
    /* The stored headers end at the first empty line. */
    const char *body = lwip_strnstr(file->data, "\r\n\r\n", (size_t)file->len);
    if (body != NULL) {
      int headers = (int)(body + 4 - file->data);
      file->data += headers;
      file->len -= headers;
      file->index = file->len;
      /* FS_FILE_FLAGS_HEADER_PERSISTENT stays: the page is whole in
       * memory, so httpd adds its Content-Length. */
      file->flags &= (u8_t)~FS_FILE_FLAGS_HEADER_INCLUDED;
    }
  }
#endif /* LWIP_TAP_STOCK_LWIP */
  return err;
}
