// The floor of a compiled proxy, for the proxy benchmark (proxy.ts, target go-httputil):
// Go's standard reverse proxy forwarding every request to the endpoint with a keep-alive
// pool, with no authentication, no header rules and no log. It answers what a data path
// out of Node (a proxy in front of the gateway, asking it only who may pass) would cost
// before any check of its own. Usage: floor-go PORT ENDPOINT_URL; prints {"ready":true}.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floor-go PORT ENDPOINT_URL")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil {
		log.Fatalf("port %q: %v", os.Args[1], err)
	}
	target, err := url.Parse(os.Args[2])
	if err != nil {
		log.Fatalf("endpoint %q: %v", os.Args[2], err)
	}
	// as the gateway's and nginx's: 64 keep-alive connections to the endpoint
	transport := &http.Transport{
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		MaxConnsPerHost:     64,
		IdleConnTimeout:     30 * time.Second,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: transport,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(`{"ready":true}`)
	log.Fatal(http.Serve(listener, proxy))
}
