package reach

import "testing"

func TestPortSetMissing(t *testing.T) {
	var s portSet
	s = s.add(Port(443)).add(PortRange{8443, 8444}).add(Port(8445))
	if got := s.String(); got != "443, 8443-8445" {
		t.Errorf("merged set %s", got)
	}
	if got := s.missing(PortRange{440, 8446}).String(); got != "440-442, 444-8442, 8446" {
		t.Errorf("missing %s", got)
	}
	if !s.covers(PortRange{8443, 8445}) || s.covers(PortRange{443, 444}) {
		t.Error("covers is wrong")
	}
}
