package main

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"
)

// sink is the local HTTP service both pipelines call. The second call of a run carries the
// phase, sequence number and send time of its event, so the sink sees when each run finished.
type sink struct {
	url string
	srv *http.Server
	// latency is how long each call waits before its answer, as a remote provider would take.
	// The second call is counted when it arrives, before the wait.
	latency time.Duration

	mu     sync.Mutex
	phases map[int]*phaseRec
}

// phaseRec is what the sink saw of one phase's runs.
type phaseRec struct {
	seen       map[int]bool
	latencies  []time.Duration // event sent → last call received, one per event
	finished   []time.Time     // when each event's last call arrived
	firstCalls int
	duplicates int // last calls received again for an event already seen
}

func startSink(latency time.Duration) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), latency: latency, phases: map[int]*phaseRec{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /step1", s.step1)
	mux.HandleFunc("POST /done", s.done)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sink) close() { s.srv.Close() }

// epoch is the origin of the send times events carry. They are microseconds since the bench
// started, not Unix times: opsflow masks Luhn-valid numbers of 13 or more digits as card numbers,
// which a microsecond Unix time can be; and the monotonic clock is immune to clock steps.
var epoch = time.Now()

func sinceEpoch(t time.Time) int64 { return t.Sub(epoch).Microseconds() }

var okBody = []byte(`{"ok":true}`)

func (s *sink) reply(w http.ResponseWriter) {
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(okBody)
}

func (s *sink) step1(w http.ResponseWriter, r *http.Request) {
	var body struct {
		P int `json:"p"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	s.phase(body.P).firstCalls++
	s.mu.Unlock()
	s.reply(w)
}

func (s *sink) done(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		P    int     `json:"p"`
		N    int     `json:"n"`
		Sent float64 `json:"sent"` // microseconds since epoch
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	rec := s.phase(body.P)
	if rec.seen[body.N] {
		rec.duplicates++
	} else {
		rec.seen[body.N] = true
		rec.latencies = append(rec.latencies, time.Duration(sinceEpoch(now)-int64(body.Sent))*time.Microsecond)
		rec.finished = append(rec.finished, now)
	}
	s.mu.Unlock()
	s.reply(w)
}

// phase returns the record of phase p; s.mu must be held.
func (s *sink) phase(p int) *phaseRec {
	rec := s.phases[p]
	if rec == nil {
		rec = &phaseRec{seen: map[int]bool{}}
		s.phases[p] = rec
	}
	return rec
}

// snapshot copies what the sink saw of phase p so far.
func (s *sink) snapshot(p int) phaseRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.phase(p)
	return phaseRec{
		latencies:  append([]time.Duration(nil), rec.latencies...),
		finished:   append([]time.Time(nil), rec.finished...),
		firstCalls: rec.firstCalls,
		duplicates: rec.duplicates,
	}
}

// finishedCount is how many distinct events of phase p finished.
func (s *sink) finishedCount(p int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.phase(p).finished)
}
