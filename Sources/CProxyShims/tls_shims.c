#include <openssl/ssl.h>
#include <openssl/err.h>
#include "CProxyShimsTLS.h"

int CProxyShims_SSL_CTX_set_min_proto_version(struct ssl_ctx_st *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

void CProxyShims_SSL_CTX_apply_defaults(struct ssl_ctx_st *ctx) {
    uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
    SSL_CTX_set_options(ctx, options);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

int CProxyShims_SSL_set_tlsext_host_name(struct ssl_st *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

void CProxyShims_BIO_set_mem_eof_return(struct bio_st *bio, int value) {
    BIO_set_mem_eof_return(bio, value);
}

int CProxyShims_ERR_GET_LIB(unsigned long error) { return ERR_GET_LIB(error); }
int CProxyShims_ERR_GET_REASON(unsigned long error) { return ERR_GET_REASON(error); }

int CProxyShims_ERR_is_not_tls(unsigned long error) {
    if (ERR_GET_LIB(error) != ERR_LIB_SSL) return 0;
    switch (ERR_GET_REASON(error)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNKNOWN_PROTOCOL:
        return 1;
    default:
        return 0;
    }
}
