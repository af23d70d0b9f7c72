package app

import "net/http"

// streamRoutes adds the stream's control routes (capacity and hot shards).
func (i *instance) streamRoutes(mux *http.ServeMux) {}
