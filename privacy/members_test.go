package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// memKeys is an in-memory MemberKeyStore (the real one, store.Store, is tested against Postgres in api/).
type memKeys struct {
	mu   sync.Mutex
	keys map[string][2]string
}

func (m *memKeys) InsertMemberKey(_ context.Context, id, kid string, wrapped []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[id]; !ok {
		m.keys[id] = [2]string{kid, string(wrapped)}
	}
	return nil
}

func (m *memKeys) MemberKey(_ context.Context, id string) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return "", nil, domain.Errorf(domain.ErrNotFound, "no key")
	}
	return k[0], []byte(k[1]), nil
}

func (m *memKeys) delete(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, id)
}

const (
	ada = "11111111-1111-4111-8111-111111111111"
	bob = "22222222-2222-4222-8222-222222222222"
)

func TestSealedRegistrationOpensUntilTheKeyIsDeleted(t *testing.T) {
	ctx := context.Background()
	ks := &memKeys{keys: map[string][2]string{}}
	m := &privacy.Members{Keys: keyring(t, oldKey), Store: ks}
	reg := domain.Registration{MemberID: ada, Email: "ada@example.com", Phone: "+33612345678", Name: "Ada Lovelace",
		Birthdate: "1990-12-10", Consent: domain.Consent{Email: true}}
	sealed, err := m.SealRegistration(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(sealed)
	for _, v := range []string{reg.Email, reg.Phone, reg.Name, reg.Birthdate} {
		if strings.Contains(string(doc), v) {
			t.Errorf("sealed registration holds %q in clear: %s", v, doc)
		}
	}
	back, err := m.OpenRegistration(ctx, sealed)
	if err != nil || back != reg {
		t.Fatalf("opened %+v, %v; want %+v", back, err, reg)
	}
	// A member sealed later under the same key opens too; another member's key does not open Ada's values.
	mem, err := m.SealMember(ctx, domain.Member{Registration: reg, Status: domain.MemberActive, JoinedAt: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SealRegistration(ctx, domain.Registration{MemberID: bob, Email: "bob@example.com", Name: "Bob"}); err != nil {
		t.Fatal(err)
	}
	moved := sealed
	moved.MemberID = bob
	if _, err := m.OpenRegistration(ctx, moved); !errors.Is(err, privacy.ErrNotSealed) {
		t.Errorf("Ada's sealed values opened as Bob's: %v", err)
	}
	// The codec endpoint's view: a JSON document with sealed values opens them while the key exists.
	wrapped, _ := json.Marshal(map[string]any{"registration": sealed, "member": mem})
	opened, n, err := m.OpenJSON(ctx, wrapped)
	if err != nil || n != 8 || !strings.Contains(string(opened), "ada@example.com") || !strings.Contains(string(opened), "Ada Lovelace") {
		t.Fatalf("OpenJSON: %d opened, %v: %s", n, err, opened)
	}
	// Crypto-shredding: once the key is gone, nothing opens, anywhere.
	ks.delete(ada)
	if _, err := m.OpenRegistration(ctx, sealed); !errors.Is(err, privacy.ErrShredded) {
		t.Errorf("after the key is deleted: %v, want ErrShredded", err)
	}
	if _, err := m.OpenMember(ctx, mem); !errors.Is(err, privacy.ErrShredded) {
		t.Errorf("member after the key is deleted: %v, want ErrShredded", err)
	}
	still, n, err := m.OpenJSON(ctx, wrapped)
	if err != nil || n != 0 || strings.Contains(string(still), "ada@example.com") {
		t.Errorf("OpenJSON after shredding: %d opened, %v: %s", n, err, still)
	}
	// A member key wrapped under a payload key that is no longer configured names it.
	m2 := &privacy.Members{Keys: keyring(t, newKey), Store: ks}
	_, err = m2.OpenRegistration(ctx, privacy.SealedRegistration{MemberID: bob, Email: "pfs1:" + bob + ":AAAA"})
	var unknown *privacy.UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "k1" {
		t.Errorf("member key under a dropped payload key: %v", err)
	}
}
