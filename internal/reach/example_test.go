package reach_test

import (
	"fmt"
	"os"

	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// A test of an example stack analyses its synthesized template, fails on
// every problem, and can look at each path.
func Example() {
	data, err := os.ReadFile("testdata/bridge.json")
	if err != nil {
		panic(err)
	}
	r, err := reach.AnalyzeJSON(data)
	if err != nil {
		panic(err)
	}
	for _, p := range r.Paths {
		fmt.Printf("%s\n  open %v, targets accept %v\n", p, p.Open(), p.Needs)
		for _, rule := range append(append(p.Clients, p.Egress...), p.Ingress...) {
			fmt.Printf("  %s\n", rule)
		}
	}
	fmt.Println("problems:", len(r.Problems()))
	// Output:
	// listener ApiListener304FEC63 (TCP 443) -> target group ApiTargetGroup54BFE075 -> service ApiServiceD5B4A50A
	//   open true, targets accept [tcp 32768-60999 (traffic)]
	//   ingress of LbSecurityGroupA28D6DD7: tcp 443 from 0.0.0.0/0 (LbSecurityGroupA28D6DD7.SecurityGroupIngress[0])
	//   egress of LbSecurityGroupA28D6DD7: tcp 32768-60999 to sg InstanceSecurityGroup863378B5 (LbToInstances)
	//   ingress of InstanceSecurityGroup863378B5: tcp 32768-60999 from sg LbSecurityGroupA28D6DD7 (InstancesFromLb)
	// problems: 0
}
