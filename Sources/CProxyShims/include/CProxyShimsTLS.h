#ifndef CPROXYSHIMS_TLS_H
#define CPROXYSHIMS_TLS_H

#include <stdint.h>

/// OpenSSL macros Swift cannot import, as functions. The OpenSSL types are forward-declared by
/// their struct tags so that importing CProxyShims does not pull OpenSSL's headers into other
/// modules (ProxyTLS, the only Swift module importing COpenSSL, sees the same types).
struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

/// SSL_CTX_set_min_proto_version (TLS1_2_VERSION, TLS1_3_VERSION). Returns 1 on success.
int CProxyShims_SSL_CTX_set_min_proto_version(struct ssl_ctx_st *ctx, int version);

/// Options every proxy context gets: no renegotiation, no compression, a peer closing without
/// close_notify is an ordinary EOF (Kafka brokers do that), partial writes allowed.
void CProxyShims_SSL_CTX_apply_defaults(struct ssl_ctx_st *ctx);

/// SSL_set_tlsext_host_name (SNI). Returns 1 on success.
int CProxyShims_SSL_set_tlsext_host_name(struct ssl_st *ssl, const char *name);

/// BIO_set_mem_eof_return: -1 makes an empty memory BIO mean "retry later" rather than EOF.
void CProxyShims_BIO_set_mem_eof_return(struct bio_st *bio, int value);

/// ERR_GET_LIB / ERR_GET_REASON.
int CProxyShims_ERR_GET_LIB(unsigned long error);
int CProxyShims_ERR_GET_REASON(unsigned long error);

/// SSL_R_WRONG_VERSION_NUMBER and friends that say "the peer is not speaking TLS".
int CProxyShims_ERR_is_not_tls(unsigned long error);

#endif
