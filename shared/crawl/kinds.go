package crawl

// Kinds are the fetch failure kinds, in the order they are declared (the
// CLI lists them for --error-kind).
var Kinds = []Kind{
	KindTimeout, KindConnection, KindHTTP5xx, KindHTTP429, KindHTTP4xx, KindRobots, KindBlocked, KindTooLarge,
	KindContentType, KindRequired, KindBadRule, KindRedirects, KindFieldsTooLarge,
	KindHeadersTooLarge,
}
