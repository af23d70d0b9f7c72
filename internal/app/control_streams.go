package app

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams"
)

// HotReport is the answer of GET /streams/{name}/hot.
type HotReport = streams.HotReport

// streamRoutes adds the stream's control routes:
//
//	GET /streams/{name}/hot   per-shard write utilisation, throttled
//	                          records and dominant partition keys
//	                          (streams.HotReport as JSON)
//
// With --kinesis-endpoint there is no embedded stream and the route answers
// 404 saying so.
func (i *instance) streamRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /streams/{name}/hot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		engine := i.stream.engine
		if engine == nil {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"error": "no embedded stream: this instance reads an existing Kinesis (--kinesis-endpoint)"})
			return
		}
		rep, err := engine.Hot(r.PathValue("name"))
		if err != nil {
			status := http.StatusInternalServerError
			if errors.As(err, new(*types.ResourceNotFoundException)) {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(rep)
	})
}
