package api

import (
	"encoding/json"
	"net/http"
)

// Successful answers: a JSON body, or 202 with the Location of the status resource to follow.

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// accepted answers 202 with the Location of the status resource to follow.
func accepted(w http.ResponseWriter, location string, body any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusAccepted, body)
}
