package cost

import (
	"fmt"
	"math"
)

// EC2 is the cron-server alternative: one on-demand instance all month.
type EC2 struct {
	Instance string  `json:"instance"`
	Items    []Item  `json:"items"`
	Total    float64 `json:"total_usd"`
}

// CompareEC2 prices one on-demand Linux instance of type instance in region
// for HoursPerMonth hours, with an EBSVolumeGB gp3 root volume and a public
// IPv4 address, plus upkeepHours of a person's time at upkeepRate USD an
// hour. The instance's logs, results and backups are not counted, nor CPU
// credits beyond the baseline (a cron job idles), nor any free tier.
func CompareEC2(region, instance string, upkeepHours, upkeepRate float64) (EC2, error) {
	pr, err := PricesFor(region)
	if err != nil {
		return EC2{}, err
	}
	hourly, ok := pr.EC2Hourly[instance]
	if !ok {
		return EC2{}, fmt.Errorf("no price for instance type %q in %s; known: %v", instance, region, InstanceTypes(region))
	}
	if upkeepHours < 0 || upkeepRate < 0 || math.IsNaN(upkeepHours) || math.IsNaN(upkeepRate) {
		return EC2{}, fmt.Errorf("upkeep of %g hours at %g USD an hour: neither may be negative", upkeepHours, upkeepRate)
	}
	e := EC2{Instance: instance}
	add := func(item string, qty float64, unit string, price float64) {
		if qty == 0 {
			return
		}
		e.Items = append(e.Items, Item{Service: "EC2", Item: item, Quantity: qty, Unit: unit, UnitPrice: price, USD: qty * price})
		e.Total += qty * price
	}
	add(instance+" on-demand", HoursPerMonth, "hours", hourly)
	add(fmt.Sprintf("EBS gp3 %d GB", EBSVolumeGB), EBSVolumeGB, "GB-month", pr.EBSgp3GBMonth)
	add("public IPv4 address", HoursPerMonth, "hours", pr.PublicIPv4Hour)
	add("upkeep (your time)", upkeepHours, "hours", upkeepRate)
	return e, nil
}
