package privacy

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload: its encoding, and the id of the key it is encrypted under. The payload's data is
// nonce || AES-256-GCM(the original payload, marshalled), with the key id as additional data.
const (
	MetadataEncoding  = converter.MetadataEncoding
	EncodingEncrypted = "binary/encrypted"
	MetadataKeyID     = "encryption-key-id"
)

// Codec is the converter.PayloadCodec of every Temporal client perkflow builds: it encrypts each payload under the
// keyring's current key and decrypts under whichever key a payload names. A payload under a key id the keyring does
// not hold fails to decode with an *UnknownKeyError naming it — a workflow task fails loudly, it never sees an
// empty value. Payloads that are not encrypted (written before the codec) decode as they are.
type Codec struct{ Keys *Keyring }

var _ converter.PayloadCodec = (*Codec)(nil)

// NewCodec is the codec over keys.
func NewCodec(keys *Keyring) *Codec { return &Codec{Keys: keys} }

// Encode encrypts every payload under the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		kid, sealed, err := c.Keys.seal(plain, []byte(c.Keys.current))
		if err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(kid)},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode decrypts every encrypted payload; others pass unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		kid := string(p.GetMetadata()[MetadataKeyID])
		plain, err := c.Keys.open(kid, p.GetData(), []byte(kid))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload: %w", err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("decrypt payload under key %q: %w", kid, ErrCorrupt)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter is Temporal's default data converter with the codec beneath it: what every perkflow client uses.
func DataConverter(keys *Keyring) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), NewCodec(keys))
}

// FailureConverter encodes failures' messages and stack traces through the data converter too, so that an error's
// text (which may quote what was refused) reaches the Temporal server encrypted.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}
