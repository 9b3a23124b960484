package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
)

// ExplainPath is the steering API's Explain procedure (Connect's JSON
// over HTTP: POST with Content-Type application/json).
const ExplainPath = "/steer.v1.SteeringService/Explain"

// maxReply bounds the reply read from a server.
const maxReply = 1 << 20

// Request is Explain's JSON request.
type Request struct {
	IP     string `json:"ip"`
	ECS    string `json:"ecs,omitempty"`
	Record string `json:"record,omitempty"`
	Family string `json:"family,omitempty"`
}

// Remote asks a running server's steering API (`steer dns` with
// listen.api) to explain addr: POST server+ExplainPath with the JSON
// request. A Connect error reply becomes an error with its code and
// message.
func Remote(ctx context.Context, client *http.Client, server string, addr netip.Addr, ecs netip.Prefix, record, family string) (*Report, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req := Request{IP: addr.String(), Record: record, Family: family}
	if ecs.IsValid() {
		req.ECS = ecs.String()
	}
	body, _ := json.Marshal(req)
	url := strings.TrimRight(server, "/") + ExplainPath
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("explain: reading %s: %w", url, err)
	}
	if len(data) > maxReply {
		return nil, fmt.Errorf("explain: %s: reply larger than %d bytes", url, maxReply)
	}
	if resp.StatusCode != http.StatusOK {
		var ce struct{ Code, Message string }
		if json.Unmarshal(data, &ce) == nil && ce.Code != "" {
			return nil, fmt.Errorf("explain: %s: %s: %s", url, ce.Code, ce.Message)
		}
		return nil, fmt.Errorf("explain: %s: %s: %.200s", url, resp.Status, bytes.TrimSpace(data))
	}
	r, err := DecodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, url)
	}
	return r, nil
}
