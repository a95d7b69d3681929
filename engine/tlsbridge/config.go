package tlsbridge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// LoadConfig builds the server's TLS configuration from --sslcert,
// --sslkey and --sslca (ca "" for none). The engine calls it at startup, so
// a missing or mismatched file is a "Can't start server" (exit 3), as with
// websocketd, and not a failure on the first connection.
//
// TLS 1.2 is the floor: older versions have no cipher suite worth keeping.
// With --sslca every client must present a certificate that chains to that
// CA; a client without one fails the handshake and never reaches HTTP.
func LoadConfig(certFile, keyFile, ca string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificate found in %s", ca)
		}
		conf.ClientCAs = pool
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return conf, nil
}
