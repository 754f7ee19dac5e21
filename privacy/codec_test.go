package privacy_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/perkflow/perkflow/privacy"
)

func keyring(t *testing.T, keys ...privacy.Key) *privacy.Keyring {
	t.Helper()
	k, err := privacy.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	oldKey = privacy.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	newKey = privacy.Key{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}
)

// TestCodecEncryptsAndNamesItsKey: what the codec encodes holds nothing of the value in clear, names its key id, and
// decodes back to the very payload.
func TestCodecEncryptsAndNamesItsKey(t *testing.T) {
	dc := privacy.DataConverter(keyring(t, oldKey))
	p, err := dc.ToPayload(map[string]string{"email": "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("ada@example.com")) || bytes.Contains(p.Data, []byte("email")) {
		t.Fatalf("encoded payload holds the value in clear: %q", p.Data)
	}
	if got := string(p.Metadata[privacy.MetadataKeyID]); got != "k1" {
		t.Errorf("key id %q, want k1", got)
	}
	if got := string(p.Metadata["encoding"]); got != privacy.EncodingEncrypted {
		t.Errorf("encoding %q", got)
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil || back["email"] != "ada@example.com" {
		t.Fatalf("decoded %v, %v", back, err)
	}
}

// TestCodecRotation: with a new key put first, new payloads use it, and those under the old key still decode.
func TestCodecRotation(t *testing.T) {
	before := privacy.DataConverter(keyring(t, oldKey))
	old, err := before.ToPayload("written before the rotation")
	if err != nil {
		t.Fatal(err)
	}
	after := privacy.DataConverter(keyring(t, newKey, oldKey))
	fresh, err := after.ToPayload("written after")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(fresh.Metadata[privacy.MetadataKeyID]); got != "k2" {
		t.Errorf("a new payload is under %q, want the new key k2", got)
	}
	var s string
	if err := after.FromPayload(old, &s); err != nil || s != "written before the rotation" {
		t.Errorf("the old payload after rotation: %q, %v", s, err)
	}
	// Until the old key is dropped from the keyring, the old payload opens; once dropped, it names the missing key.
	if err := privacy.DataConverter(keyring(t, newKey)).FromPayload(old, &s); err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Errorf("old key dropped: %v, want an error naming k1", err)
	}
}

// TestCodecUnknownKeyFailsLoudly: a payload under a key id not configured is an error naming it, never an empty value.
func TestCodecUnknownKeyFailsLoudly(t *testing.T) {
	p, err := privacy.DataConverter(keyring(t, privacy.Key{ID: "gone-2025", Secret: bytes.Repeat([]byte{9}, 32)})).ToPayload("x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = privacy.NewCodec(keyring(t, oldKey)).Decode([]*commonpb.Payload{p})
	var unknown *privacy.UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "gone-2025" || !strings.Contains(err.Error(), "gone-2025") {
		t.Fatalf("decode under an unknown key id: %v", err)
	}
	// The same id under another secret, or tampered data: ErrCorrupt, not a value.
	other := privacy.NewCodec(keyring(t, privacy.Key{ID: "gone-2025", Secret: bytes.Repeat([]byte{8}, 32)}))
	if _, err := other.Decode([]*commonpb.Payload{p}); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("another secret under the same id: %v, want ErrCorrupt", err)
	}
	tampered := &commonpb.Payload{Metadata: p.Metadata, Data: append([]byte(nil), p.Data...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := privacy.NewCodec(keyring(t, privacy.Key{ID: "gone-2025", Secret: bytes.Repeat([]byte{9}, 32)})).Decode([]*commonpb.Payload{tampered}); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("tampered: %v, want ErrCorrupt", err)
	}
	// A payload written before the codec (not encrypted) decodes as it is: histories recorded before it replay.
	clear, _ := converter.GetDefaultDataConverter().ToPayload("clear")
	out, err := privacy.NewCodec(keyring(t, oldKey)).Decode([]*commonpb.Payload{clear})
	if err != nil || out[0] != clear {
		t.Errorf("clear payload: %v, %v", out, err)
	}
}

func TestParseKeys(t *testing.T) {
	k, err := privacy.ParseKeys("k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=, k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE")
	if err != nil {
		t.Fatal(err)
	}
	if k.CurrentKeyID() != "k2" || strings.Join(k.KeyIDs(), ",") != "k2,k1" {
		t.Errorf("current %s, ids %v", k.CurrentKeyID(), k.KeyIDs())
	}
	spec, err := privacy.NewKeySpec("fresh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := privacy.ParseKeys(spec); err != nil {
		t.Errorf("a new key spec does not parse: %v", err)
	}
	secret := "c2hvcnQ="
	for _, bad := range []string{"", "k1", "k1:" + secret, "k1:!!notbase64", "bad id:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
		"k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,k1:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"} {
		_, err := privacy.ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "AQEB") {
			t.Errorf("ParseKeys(%q): the error quotes a secret: %v", bad, err)
		}
	}
}
