// The TLS engine arrives with issue 4; this file keeps the target buildable until then.
enum ProxyTLSModule {}
