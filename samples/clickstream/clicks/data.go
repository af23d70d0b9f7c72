package clicks

// The tables below are rough shares of real web-shop traffic; exact numbers
// do not matter, but the mix must exercise every branch of the enrichment
// (desktop, mobile, tablet and bot user agents) and skew like real traffic.

var eventTypes = []weighted[string]{
	{PageView, 55},
	{Click, 25},
	{Search, 9},
	{AddToCart, 8},
	{Purchase, 3},
}

type userAgent struct {
	ua  string
	bot bool
}

var userAgents = []weighted[userAgent]{
	// Desktop.
	{userAgent{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"}, 28},
	{userAgent{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"}, 9},
	{userAgent{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87"}, 5},
	{userAgent{ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"}, 4},
	{userAgent{ua: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"}, 2},
	{userAgent{ua: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"}, 6},
	// Mobile.
	{userAgent{ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}, 18},
	{userAgent{ua: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36"}, 8},
	{userAgent{ua: "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"}, 6},
	// Tablet.
	{userAgent{ua: "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}, 4},
	{userAgent{ua: "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Safari/537.36"}, 2},
	// Crawlers: the user agent is drawn from bots below.
	{userAgent{bot: true}, 4},
}

type bot struct {
	ua  string
	net string // first two octets of the crawler's published address block
}

var bots = []bot{
	{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "66.249"},
	{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "66.249"},
	{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "157.55"},
	{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "54.36"},
}

var countries = []weighted[string]{
	{"US", 34}, {"GB", 8}, {"DE", 8}, {"IN", 8}, {"BR", 6}, {"FR", 5}, {"CA", 5},
	{"JP", 5}, {"AU", 3}, {"NL", 3}, {"ES", 3}, {"MX", 3}, {"IT", 3}, {"PL", 2},
	{"SE", 2}, {"KR", 2},
}

var externalReferrers = []weighted[string]{
	{"", 30}, // typed the address or used a bookmark
	{"https://www.google.com/", 40},
	{"https://www.bing.com/", 5},
	{"https://duckduckgo.com/", 3},
	{"https://www.facebook.com/", 8},
	{"https://www.instagram.com/", 5},
	{"https://t.co/", 4},
	{"https://www.reddit.com/", 3},
	{"https://mail.google.com/", 2},
}

var categories = []weighted[string]{
	{"shoes", 20}, {"electronics", 18}, {"books", 12}, {"home", 12}, {"outdoor", 10},
	{"toys", 8}, {"beauty", 8}, {"garden", 6}, {"sale", 6},
}

var blogPosts = []weighted[string]{
	{"summer-gift-guide", 5}, {"how-to-choose-running-shoes", 4}, {"best-headphones-2026", 4},
	{"care-for-leather", 2}, {"behind-the-scenes", 1},
}

var searchTerms = []weighted[string]{
	{"running shoes", 10}, {"wireless headphones", 9}, {"usb-c cable", 7}, {"coffee grinder", 5},
	{"rain jacket", 5}, {"lego", 5}, {"desk lamp", 4}, {"yoga mat", 4}, {"phone case", 6},
	{"gift card", 3}, {"kids backpack", 3}, {"espresso machine", 3}, {"sunglasses", 3},
	{"water bottle", 4}, {"mechanical keyboard", 3}, {"bluetooth speaker", 4},
}

// publicFirstOctets are first octets of blocks allocated to regional
// registries for end users.
var publicFirstOctets = []int{
	24, 31, 37, 46, 49, 62, 68, 71, 73, 76, 77, 78, 81, 82, 86, 88, 90, 93, 98,
	101, 103, 109, 110, 112, 115, 117, 122, 124, 151, 173, 177, 179, 181, 186,
	187, 189, 190, 191, 200, 201, 212, 213, 217,
}
