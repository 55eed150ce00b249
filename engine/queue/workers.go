package queue

import "github.com/hibiken/asynq"

// Workers counts the live worker processes consuming this queue: asynq servers that sent a
// heartbeat recently (a dead one's record expires within about half a minute).
func (q *Queue) Workers() (int, error) {
	in := asynq.NewInspector(q.Opt)
	defer in.Close()
	servers, err := in.Servers()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range servers {
		if _, ok := s.Queues[q.Name]; ok && s.Status == "active" {
			n++
		}
	}
	return n, nil
}
