// Package wire is the seam between Snodo's connector types and
// hashicorp/go-plugin: the handshake and the plugin that carries the gRPC
// service on both sides. Only the plugins packages use it.
package wire

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	connectorv1 "github.com/snodo-hub/snodo/plugins/proto/snodo/connector/v1"
)

// ProtocolVersion is the connector protocol this build speaks.
const ProtocolVersion = 1

// PluginName is the name of the connector plugin in the plugin set.
const PluginName = "connector"

// Handshake is what host and connector must agree on before anything else.
// The magic cookie is not a secret: it only stops a connector binary from
// running as an ordinary program by mistake.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SNODO_CONNECTOR_PLUGIN",
	MagicCookieValue: "d1b6f6c2-8c8e-4f0f-9d2c-0b6e6c1f3a57",
}

// Plugin carries the Connector gRPC service. On the connector's side Impl
// is set; on the host's side Dispense returns a ConnectorClient.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl connectorv1.ConnectorServer
}

// GRPCServer registers the connector's service.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	connectorv1.RegisterConnectorServer(s, p.Impl)
	return nil
}

// GRPCClient returns the host's client of the connector's service.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return connectorv1.NewConnectorClient(c), nil
}

// Plugins is the versioned plugin set: only protocol 1 exists.
func Plugins(server connectorv1.ConnectorServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &Plugin{Impl: server}},
	}
}
