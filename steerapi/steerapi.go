package steerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/explain"
	steerv1 "github.com/steer-gslb/steer/gen/steer/v1"
	"github.com/steer-gslb/steer/gen/steer/v1/steerv1connect"
	"github.com/steer-gslb/steer/steering"
	"github.com/steer-gslb/steer/steertoken"
)

// MaxBatch bounds the requests of one ResolveBatch.
const MaxBatch = 10000

// maxMessage bounds a request message: a full batch of long IPv6
// requests in JSON is about 1.5 MB.
const maxMessage = 4 << 20

// compressMin is the smallest response worth compressing when the client
// accepts gzip (connect-go clients do). Connect compresses every response
// by default, and resetting a gzip writer costs about 25 µs a response,
// a third of the server's CPU per Resolve call in bench/api.sh, to shrink
// a 150-byte answer; batches still compress.
const compressMin = 4 << 10

// New returns the steering API's HTTP handler over srv; it is the
// dnsserver.API that cmd/steer and cmd/steer-dns give the server.
func New(srv *dnsserver.Server) http.Handler {
	path, h := steerv1connect.NewSteeringServiceHandler(NewService(srv),
		connect.WithCodec(jsonCodec{}), connect.WithReadMaxBytes(maxMessage),
		connect.WithCompressMinBytes(compressMin))
	mux := http.NewServeMux()
	mux.Handle(path, h)
	return mux
}

// Service implements steerv1connect.SteeringServiceHandler.
type Service struct {
	srv  *dnsserver.Server
	pops atomic.Pointer[popMessages]
}

// NewService returns the service over srv.
func NewService(srv *dnsserver.Server) *Service { return &Service{srv: srv} }

var _ steerv1connect.SteeringServiceHandler = (*Service)(nil)

// Resolve implements SteeringServiceHandler.
func (s *Service) Resolve(_ context.Context, req *connect.Request[steerv1.ResolveRequest]) (*connect.Response[steerv1.ResolveResponse], error) {
	var buf [16]int
	out := &steerv1.ResolveResponse{}
	if err := s.ResolveInto(s.srv.Snapshot(), req.Msg, out, buf[:0], ""); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// ResolveBatch implements SteeringServiceHandler: every request is decided
// on the same snapshot.
func (s *Service) ResolveBatch(_ context.Context, req *connect.Request[steerv1.ResolveBatchRequest]) (*connect.Response[steerv1.ResolveBatchResponse], error) {
	reqs := req.Msg.GetRequests()
	if len(reqs) > MaxBatch {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("requests: %d requests, at most %d in one batch", len(reqs), MaxBatch))
	}
	snap := s.srv.Snapshot()
	out := &steerv1.ResolveBatchResponse{Responses: make([]*steerv1.ResolveResponse, len(reqs))}
	all := make([]steerv1.ResolveResponse, len(reqs))
	var buf [16]int
	for i, r := range reqs {
		out.Responses[i] = &all[i]
		if err := s.ResolveInto(snap, r, &all[i], buf[:0], fmt.Sprintf("requests[%d].", i)); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(out), nil
}

// Explain implements SteeringServiceHandler: the decision Resolve gives
// the same client, taken by the same chain on the snapshot being served,
// and everything behind it (package explain). ip and ecs mean what they
// mean for Resolve.
func (s *Service) Explain(_ context.Context, req *connect.Request[steerv1.ExplainRequest]) (*connect.Response[steerv1.ExplainResponse], error) {
	m := req.Msg
	q, err := parseRequest(&steerv1.ResolveRequest{Ip: m.GetIp(), Ecs: m.GetEcs(), Record: m.GetRecord(), Family: m.GetFamily()})
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	family := "A"
	if q.Family == steering.FamilyV6 {
		family = "AAAA"
	}
	var ecs netip.Prefix
	if m.GetEcs() != "" {
		ecs = q.Client.ECS
	}
	r, err := s.srv.Snapshot().Explain(q.Record, family, q.Client.Resolver, ecs)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewResponse(explainMessage(r)), nil
}

// explainMessage is the wire form of an explain.Report.
func explainMessage(r *explain.Report) *steerv1.ExplainResponse {
	out := &steerv1.ExplainResponse{
		Addr: r.Addr.String(), Record: r.Record, Family: r.Family, Source: r.Source, Scope: int32(r.Scope),
		Pops: r.PoPs, MapVersion: int64(r.MapVersion), Anycast: r.Anycast, AnycastPop: r.AnycastPoP, Answer: r.Answer,
		EcsEntry: entryMessage(r.ECSEntry), ResolverEntry: entryMessage(r.ResolverEntry), Moved: entryMessage(r.Moved),
	}
	if r.ECS.IsValid() {
		out.Ecs = r.ECS.String()
	}
	if r.Resolver.IsValid() {
		out.Resolver = r.Resolver.String()
	}
	if r.EstimateNetwork.IsValid() {
		out.EstimateNetwork = r.EstimateNetwork.String()
	}
	if g := r.Geo; g != nil {
		out.Geo = &steerv1.ExplainGeo{Country: g.Country, City: g.City, Lat: g.Lat, Lon: g.Lon, Nearest: g.Nearest, DistanceKm: g.DistanceKm}
		if g.Prefix.IsValid() {
			out.Geo.Prefix = g.Prefix.String()
		}
	}
	for _, e := range r.Estimates {
		out.Estimates = append(out.Estimates, &steerv1.ExplainEstimate{Pop: e.PoP, Samples: int32(e.Samples), P75Ms: e.P75Ms})
	}
	for _, sk := range r.Skipped {
		out.Skipped = append(out.Skipped, &steerv1.ExplainSkip{Pop: sk.PoP, Reason: sk.Reason})
	}
	return out
}

func entryMessage(e *explain.Entry) *steerv1.ExplainEntry {
	if e == nil {
		return nil
	}
	out := &steerv1.ExplainEntry{Labels: e.Labels, Origin: e.Origin}
	for _, x := range e.Expected {
		out.Expected = append(out.Expected, &steerv1.ExplainExpected{Pop: x.PoP, RttMs: x.RTTMs})
	}
	if e.Prefix.IsValid() {
		out.Prefix = e.Prefix.String()
	}
	return out
}

// ResolveInto decides req on snap and fills out, reusing its slices;
// ranked is scratch space for the ranking. A malformed request returns a
// CodeInvalidArgument error whose message starts with field, the prefix
// of the field names ("" for a single request). With out and ranked
// reused it does not allocate (BenchmarkResolve).
func (s *Service) ResolveInto(snap dnsserver.Snapshot, req *steerv1.ResolveRequest, out *steerv1.ResolveResponse, ranked []int, field string) error {
	q, err := parseRequest(req)
	if err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s%w", field, err))
	}
	d, err := snap.Decide(q, ranked)
	if err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s%w", field, err))
	}
	pm := s.popMessages(d.Config)
	fam := q.Family
	if d.CNAME {
		fam = steering.FamilyV4
	}
	out.Pops = out.Pops[:0]
	for _, i := range d.Ranked {
		if d.CNAME {
			out.Pops = append(out.Pops, pm.bare[i])
		} else {
			out.Pops = append(out.Pops, pm.fam[fam][i])
		}
	}
	// The build's expected RTTs, where the deciding map has them: the
	// shared PoP messages are copied (a few small allocations; none
	// without an RTT file).
	if ex := snap.Expected(q, d); len(ex) > 0 {
		for k, p := range out.Pops {
			for _, e := range ex {
				if e.PoP == p.GetLabel() {
					rtt := e.RTTMs
					out.Pops[k] = &steerv1.PoP{Label: p.GetLabel(), Addresses: p.GetAddresses(), ExpectedRttMs: &rtt}
					break
				}
			}
		}
	}
	out.Source = d.Source.String()
	out.Scope = int32(d.Scope)
	out.MapVersion = d.MapVersion
	out.Anycast = d.Anycast
	out.Record = d.Record.Name
	out.Token = nil
	if req.GetWantToken() && len(d.Ranked) > 0 {
		keys, ttl := snap.TokenKeys()
		if keys == nil {
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%swant_token: this server has no signing keys (api_tokens in its config)", field))
		}
		network := q.Client.ECS.Addr()
		if !q.Client.ECS.IsValid() || q.Client.ECS.Bits() == 0 {
			network = q.Client.Resolver
		}
		now := time.Now()
		tok, err := steertoken.Sign(keys, steertoken.Claims{PoP: string(d.Config.PoPs[d.Ranked[0]].Label),
			Network: steertoken.ClientNetwork(network), IssuedAt: now, Expires: now.Add(ttl)})
		if err != nil {
			return connect.NewError(connect.CodeInternal, fmt.Errorf("signing the steering token: %w", err))
		}
		out.Token = &tok
	}
	return nil
}

// parseRequest checks a request and turns it into the DNS server's terms.
func parseRequest(req *steerv1.ResolveRequest) (dnsserver.Query, error) {
	var q dnsserver.Query
	ip, err := netip.ParseAddr(req.GetIp())
	switch {
	case req.GetIp() == "":
		return q, errors.New("ip: required")
	case err != nil:
		return q, fmt.Errorf("ip: %q is not an IP address", req.GetIp())
	case ip.Zone() != "":
		return q, fmt.Errorf("ip: %q: zones are not allowed", req.GetIp())
	}
	ip = ip.Unmap()
	q.Client.Resolver = ip
	if e := req.GetEcs(); e != "" {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return q, fmt.Errorf("ecs: %q is not a CIDR prefix (like 203.0.113.0/24)", e)
		}
		q.Client.ECS = p.Masked()
	} else {
		q.Client.ECS = netip.PrefixFrom(ip, ip.BitLen())
	}
	switch f := req.GetFamily(); {
	case f == "":
		if ip.Is6() {
			q.Family = steering.FamilyV6
		}
	case strings.EqualFold(f, "A"):
	case strings.EqualFold(f, "AAAA"):
		q.Family = steering.FamilyV6
	default:
		return q, fmt.Errorf(`family: want "A" or "AAAA", got %q`, f)
	}
	q.Record = req.GetRecord()
	return q, nil
}

// popMessages are the PoP messages of one config, made once and shared
// by every response (messages are only read when marshalled).
type popMessages struct {
	cfg  *config.Config
	fam  [2][]*steerv1.PoP // by family, by PoP index: label and addresses
	bare []*steerv1.PoP    // label alone, for CNAME records
}

func (s *Service) popMessages(cfg *config.Config) *popMessages {
	if pm := s.pops.Load(); pm != nil && pm.cfg == cfg {
		return pm
	}
	pm := &popMessages{cfg: cfg, bare: make([]*steerv1.PoP, len(cfg.PoPs))}
	for f := range 2 {
		pm.fam[f] = make([]*steerv1.PoP, len(cfg.PoPs))
	}
	for i, p := range cfg.PoPs {
		pm.bare[i] = &steerv1.PoP{Label: string(p.Label)}
		pm.fam[0][i] = &steerv1.PoP{Label: string(p.Label), Addresses: addrStrings(p.IPv4)}
		pm.fam[1][i] = &steerv1.PoP{Label: string(p.Label), Addresses: addrStrings(p.IPv6)}
	}
	s.pops.Store(pm)
	return pm
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// jsonCodec is Connect's JSON codec emitting zero values too, so that a
// JSON client always sees "scope", "source" and "pops".
type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("json codec: %T is not a proto.Message", m)
	}
	return protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(pm)
}

func (jsonCodec) Unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("json codec: %T is not a proto.Message", m)
	}
	if len(b) == 0 {
		return errors.New("empty body: want a JSON object")
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, pm)
}
