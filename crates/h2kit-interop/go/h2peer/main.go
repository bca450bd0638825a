// h2peer: Go's net/http (and golang.org/x/net/http2 for h2c) as an HTTP/2 peer for
// h2kit's interop tests. Built by crates/h2kit-interop/tests/go_peers.rs in GOPATH mode
// against Debian's golang-golang-x-net-dev; standard library otherwise.
//
//	h2peer server -mode tls|h2c
//	    serves GET /bytes/N (N bytes) and POST /sink (answers the body's length and
//	    checksum); prints "listening ADDR" on stdout, then serves until stdin closes.
//	h2peer client -mode tls|h2c -base URL -n N -size BYTES [-upload]
//	    sends N requests at once on one connection: GET BASE/bytes/SIZE, or with -upload
//	    POST BASE/sink with SIZE bytes; checks every answer and prints "ok N/N" or the
//	    failures, exiting 1 when any request failed.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// pattern is the byte at offset i of every body: checkable without keeping a copy.
func pattern(i int) byte { return byte(i*7 + i/251) }

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern(i)
	}
	return b
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("content-length", strconv.Itoa(n))
		w.Write(body(n))
	})
	mux.HandleFunc("/sink", func(w http.ResponseWriter, r *http.Request) {
		h := crc32.NewIEEE()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %08x", n, h.Sum32())
	})
	return mux
}

func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2peer:", err)
		os.Exit(2)
	}
}

func server(mode string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: handler()}
	switch mode {
	case "tls":
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSigned()}, NextProtos: []string{"h2"}}
		check(http2.ConfigureServer(srv, &http2.Server{}))
		ln = tls.NewListener(ln, srv.TLSConfig)
	case "h2c":
		srv.Handler = h2c.NewHandler(srv.Handler, &http2.Server{})
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	fmt.Printf("listening %s\n", ln.Addr())
	os.Stdout.Sync()
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin) // the test ends the server by closing stdin
}

func client(mode, base string, n, size int, upload bool) {
	var rt http.RoundTripper
	switch mode {
	case "tls":
		// The standard library's own HTTP/2 client (ALPN h2 over TLS).
		rt = &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			ForceAttemptHTTP2: true,
			MaxConnsPerHost:   1,
		}
	case "h2c":
		rt = &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	c := &http.Client{Transport: rt, Timeout: 60 * time.Second}
	payload := body(size)
	want := fmt.Sprintf("%d %08x", size, crc32.ChecksumIEEE(payload))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	protos := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var resp *http.Response
			var err error
			if upload {
				resp, err = c.Post(base+"/sink", "application/octet-stream", bytes.NewReader(payload))
			} else {
				resp, err = c.Get(fmt.Sprintf("%s/bytes/%d", base, size))
			}
			fail := func(msg string) {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("request %d: %s", i, msg))
				mu.Unlock()
			}
			if err != nil {
				fail(err.Error())
				return
			}
			defer resp.Body.Close()
			mu.Lock()
			protos[resp.Proto]++
			mu.Unlock()
			got, err := io.ReadAll(resp.Body)
			switch {
			case err != nil:
				fail(fmt.Sprintf("reading the body after %d bytes: %v", len(got), err))
			case resp.StatusCode != 200:
				fail(fmt.Sprintf("status %d", resp.StatusCode))
			case upload && string(got) != want:
				fail(fmt.Sprintf("server saw %q, sent %q", got, want))
			case !upload && !bytes.Equal(got, payload):
				fail(fmt.Sprintf("body of %d bytes differs from the %d sent", len(got), size))
			}
		}(i)
	}
	wg.Wait()
	for _, f := range failures {
		fmt.Println(f)
	}
	fmt.Printf("protocols %v\n", protos)
	fmt.Printf("ok %d/%d\n", n-len(failures), n)
	if len(failures) > 0 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		check(fmt.Errorf("usage: h2peer server|client [flags]"))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	mode := fs.String("mode", "tls", "tls or h2c")
	base := fs.String("base", "", "client: base URL")
	n := fs.Int("n", 100, "client: concurrent requests")
	size := fs.Int("size", 1<<20, "client: bytes per request")
	upload := fs.Bool("upload", false, "client: POST instead of GET")
	check(fs.Parse(os.Args[2:]))
	switch os.Args[1] {
	case "server":
		server(*mode)
	case "client":
		client(*mode, *base, *n, *size, *upload)
	default:
		check(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}
