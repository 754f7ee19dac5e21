package api

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
)

// The remote payload codec (docs/privacy.md): POST /codec/decode and /codec/encode speak the protocol of the
// Temporal UI and the temporal CLI (`--codec-endpoint`): a JSON body {"payloads": [...]} in protobuf's JSON form,
// answered in kind. Support and admin keys only; every call is audited (who, when, the namespace, how many
// payloads, how many sealed personal values were opened — never a value). Decoding also opens the members'
// sealed personal fields whose keys still exist, so that support reads them; a shredded member's stay sealed.

// errUndecodable: a payload the codec cannot decode (a key id not configured, tampered or foreign ciphertext).
const errUndecodable domain.ErrorCode = "payload_undecodable"

// maxCodecBody bounds a codec request: the UI sends a page of payloads, each at most Temporal's 2 MiB blob limit.
const maxCodecBody = 8 << 20

// namespaceHeader is the header the Temporal UI names the namespace of the payloads in.
const namespaceHeader = "X-Namespace"

var namespaceShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)

// codecCORS answers the browser's preflight (OPTIONS, no authentication, as browsers send it) for the codec endpoints and adds the CORS headers to their answers,
// for the Temporal UI origins configured (PERKFLOW_CODEC_ORIGINS). Credentials (the Authorization header, cookies)
// are allowed: the UI sends them when told to.
func (s *Server) codecCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.cfg.CodecOrigins, origin)
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			// Another origin gets no CORS headers: its browser refuses to send the request.
			if !allowed {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// codecPreflight is reached only through codecCORS, which answers every OPTIONS request itself.
func codecPreflight(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func (s *Server) codecDecode(w http.ResponseWriter, r *http.Request) { s.codec(w, r, "decode") }
func (s *Server) codecEncode(w http.ResponseWriter, r *http.Request) { s.codec(w, r, "encode") }

func (s *Server) codec(w http.ResponseWriter, r *http.Request, op string) {
	if s.cfg.Codec == nil {
		fail(w, r, problem(errUnavailable, "no payload keys configured (PERKFLOW_PAYLOAD_KEYS)"))
		return
	}
	ns := r.Header.Get(namespaceHeader)
	if ns != "" && !namespaceShape.MatchString(ns) {
		var v domain.Validation
		v.Add(namespaceHeader, "must be a Temporal namespace name")
		fail(w, r, v.Err())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCodecBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		fail(w, r, problem(errBodyTooLarge, "a codec request holds at most "+strconv.Itoa(maxCodecBody>>20)+" MiB"))
		return
	}
	if err != nil {
		fail(w, r, problem(domain.ErrInvalid, "the body could not be read"))
		return
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		var v domain.Validation
		// A field the protocol does not have is named, as everywhere else in the API.
		named := false
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) == nil {
			for _, f := range slices.Sorted(maps.Keys(top)) {
				if f != "payloads" {
					v.Add(f, "unknown field: a codec request holds only payloads")
					named = true
				}
			}
		}
		if !named {
			v.Add("payloads", "must be {\"payloads\": [...]} in protobuf's JSON form")
		}
		fail(w, r, v.Err())
		return
	}
	var out []*commonpb.Payload
	opened := 0
	if op == "decode" {
		if out, err = s.cfg.Codec.Decode(in.Payloads); err == nil && s.cfg.Members != nil {
			opened, err = s.openSealed(r, out)
		}
	} else {
		out, err = s.cfg.Codec.Encode(in.Payloads)
	}
	var unknown *privacy.UnknownKeyError
	switch {
	case errors.As(err, &unknown):
		fail(w, r, problem(errUndecodable, "a payload is encrypted under key id "+strconv.Quote(unknown.KeyID)+
			", which is not configured here"))
		return
	case errors.Is(err, privacy.ErrCorrupt):
		fail(w, r, problem(errUndecodable, "a payload does not decrypt: tampered, or under another secret of the same key id"))
		return
	case err != nil:
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	// Audited before anything is answered: a use that cannot be recorded is not served.
	if err := s.cfg.Store.RecordCodecUse(r.Context(), store.CodecUse{At: s.now(), Actor: p.Actor(), Operation: op,
		Namespace: ns, Payloads: len(in.Payloads), Opened: opened}); err != nil {
		fail(w, r, err)
		return
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		fail(w, r, err)
		return
	}
	if len(out) == 0 {
		b = []byte(`{"payloads":[]}`) // protobuf's JSON leaves an empty list out; the protocol's clients expect it
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// openSealed opens, in the JSON payloads decoded, the sealed personal values of members whose keys still exist.
func (s *Server) openSealed(r *http.Request, payloads []*commonpb.Payload) (int, error) {
	total := 0
	for i, p := range payloads {
		if string(p.GetMetadata()["encoding"]) != "json/plain" {
			continue
		}
		data, n, err := s.cfg.Members.OpenJSON(r.Context(), p.GetData())
		if err != nil {
			return 0, err
		}
		if n > 0 {
			payloads[i] = &commonpb.Payload{Metadata: p.GetMetadata(), Data: data}
			total += n
		}
	}
	return total, nil
}
