package firehose

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeFormat is a compiled Java DateTimeFormatter pattern, the language of
// !{timestamp:...} (docs/semantics.md, "Firehose S3 prefix expressions").
// Only formatting is needed, never parsing.
//
// Supported letters: G y u Y M L Q q d D E w H h k K m s S n a, quoted
// literals ('...' and ”), and optional sections [ ] (always printed, since
// a timestamp has every field). Letters Java knows but Sluice does not
// (zones, localized day-of-week, week-of-month...) are rejected at
// validation time rather than rendered wrongly. Pitfalls are Java's, on
// purpose: YYYY is the week-based year, DD the day of year, mm minutes.
// Week-based fields follow Locale.US rules (weeks start on Sunday, week 1
// contains January 1), the locale Firehose formats with (assumed).
type timeFormat struct {
	items []timeItem
}

type timeItem struct {
	letter byte   // 0 for a literal
	count  int    // number of repeated letters
	lit    string // literal text
}

// javaLetters are every pattern letter DateTimeFormatter accepts; letters
// outside this set are "Unknown pattern letter" in Java too.
const javaLetters = "GuyDMLdQqYwWEecFaHkKhmsSAnNVvzOXxZp"

// maxCount bounds repeated letters (Java's own limit for numeric fields is
// 19 digits); it also keeps rendering cheap for fuzzed patterns.
var maxCount = map[byte]int{
	'G': 5, 'y': 19, 'u': 19, 'Y': 19, 'M': 5, 'L': 5, 'Q': 5, 'q': 5,
	'd': 2, 'D': 3, 'E': 5, 'w': 2, 'H': 2, 'h': 2, 'k': 2, 'K': 2,
	'm': 2, 's': 2, 'S': 9, 'n': 19, 'a': 1,
}

func compileTimeFormat(p string) (*timeFormat, error) {
	if p == "" {
		return nil, errors.New("empty timestamp pattern")
	}
	var tf timeFormat
	depth := 0
	addLit := func(s string) {
		if n := len(tf.items); n > 0 && tf.items[n-1].letter == 0 {
			tf.items[n-1].lit += s
			return
		}
		tf.items = append(tf.items, timeItem{lit: s})
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var sb strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("pattern %q ends with an incomplete string literal", p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				sb.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				addLit("'") // '' outside a literal is one quote
			} else {
				addLit(sb.String())
			}
			i = j + 1
		case c == '[':
			depth++
			i++
		case c == ']':
			if depth == 0 {
				return nil, fmt.Errorf("pattern %q contains ] without previous [", p)
			}
			depth--
			i++
		case c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("pattern %q uses reserved character %q", p, c)
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			n := j - i
			if !strings.ContainsRune(javaLetters, rune(c)) {
				return nil, fmt.Errorf("unknown pattern letter: %c", c)
			}
			limit, ok := maxCount[c]
			if !ok {
				return nil, fmt.Errorf("pattern letter %c is not supported by sluice", c)
			}
			if n > limit {
				return nil, fmt.Errorf("too many pattern letters: %c", c)
			}
			tf.items = append(tf.items, timeItem{letter: c, count: n})
			i = j
		default:
			addLit(string(c))
			i++
		}
	}
	return &tf, nil
}

var (
	shortDays  = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longMonths = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// format renders t (already in the wanted zone).
func (tf *timeFormat) format(t time.Time) string {
	var b strings.Builder
	for _, it := range tf.items {
		if it.letter == 0 {
			b.WriteString(it.lit)
			continue
		}
		n := it.count
		switch it.letter {
		case 'G':
			era, long := "AD", "Anno Domini"
			if t.Year() <= 0 {
				era, long = "BC", "Before Christ"
			}
			switch {
			case n == 4:
				b.WriteString(long)
			case n == 5:
				b.WriteString(era[:1])
			default:
				b.WriteString(era)
			}
		case 'y', 'u', 'Y':
			y := t.Year()
			if it.letter == 'Y' {
				y, _ = usWeek(t)
			} else if it.letter == 'y' && y <= 0 {
				y = 1 - y // year of era
			}
			if n == 2 {
				writePadded(&b, int64(abs(y%100)), 2)
				continue
			}
			if n >= 4 && y >= 0 && int64(y) >= pow10(n) {
				b.WriteByte('+') // Java's EXCEEDS_PAD sign style
			}
			writeSigned(&b, int64(y), n)
		case 'M', 'L':
			m := int(t.Month())
			switch n {
			case 1, 2:
				writePadded(&b, int64(m), n)
			case 3:
				b.WriteString(longMonths[m-1][:3])
			case 4:
				b.WriteString(longMonths[m-1])
			default:
				b.WriteString(longMonths[m-1][:1])
			}
		case 'Q', 'q':
			q := (int(t.Month())-1)/3 + 1
			switch n {
			case 1, 2:
				writePadded(&b, int64(q), n)
			case 3:
				b.WriteString("Q" + strconv.Itoa(q))
			case 4:
				b.WriteString([...]string{"1st", "2nd", "3rd", "4th"}[q-1] + " quarter")
			default:
				b.WriteString(strconv.Itoa(q))
			}
		case 'd':
			writePadded(&b, int64(t.Day()), n)
		case 'D':
			writePadded(&b, int64(t.YearDay()), n)
		case 'E':
			d := shortDays[t.Weekday()]
			switch {
			case n == 4:
				b.WriteString(t.Weekday().String())
			case n == 5:
				b.WriteString(d[:1])
			default:
				b.WriteString(d)
			}
		case 'w':
			_, w := usWeek(t)
			writePadded(&b, int64(w), n)
		case 'H':
			writePadded(&b, int64(t.Hour()), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			writePadded(&b, int64(h), n)
		case 'K':
			writePadded(&b, int64(t.Hour()%12), n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			writePadded(&b, int64(h), n)
		case 'm':
			writePadded(&b, int64(t.Minute()), n)
		case 's':
			writePadded(&b, int64(t.Second()), n)
		case 'S':
			frac := fmt.Sprintf("%09d", t.Nanosecond())
			b.WriteString(frac[:n])
		case 'n':
			writePadded(&b, int64(t.Nanosecond()), n)
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		}
	}
	return b.String()
}

// usWeek returns the week-based year and week of week-based year under
// Locale.US week rules: weeks start on Sunday and week 1 is the week that
// contains January 1 (minimal days 1).
func usWeek(t time.Time) (year, week int) {
	y := t.Year()
	yd := t.YearDay() - 1
	wd := int(t.Weekday())
	days := 365
	if isLeap(y) {
		days = 366
	}
	if yd-wd+6 >= days { // this week's Saturday is in next year: it holds next January 1
		return y + 1, 1
	}
	jan1 := ((wd-yd)%7 + 7) % 7
	return y, (yd+jan1)/7 + 1
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func pow10(n int) int64 {
	if n > 18 {
		return 1<<63 - 1
	}
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

func writePadded(b *strings.Builder, v int64, width int) {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

func writeSigned(b *strings.Builder, v int64, width int) {
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	writePadded(b, v, width)
}
