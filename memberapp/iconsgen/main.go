// Command iconsgen draws the member app's PNG icons (icon-192.png, icon-512.png) from the shape of icon.svg: a
// rounded square and a five-pointed star. Run from the repository's root: go run ./memberapp/iconsgen.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

func main() {
	for _, size := range []int{192, 512} {
		if err := write(size, "memberapp/static/icon-"+itoa(size)+".png"); err != nil {
			log.Fatal(err)
		}
	}
}

func itoa(n int) string {
	if n == 192 {
		return "192"
	}
	return "512"
}

// star is icon.svg's star, in its 64-unit box.
var star = [][2]float64{{32, 12}, {37.9, 24}, {51, 25.9}, {41.5, 35.2}, {43.7, 48.3}, {32, 42.1}, {20.3, 48.3}, {22.5, 35.2}, {13, 25.9}, {26.1, 24}}

func inside(x, y float64) bool {
	in := false
	for i, j := 0, len(star)-1; i < len(star); j, i = i, i+1 {
		xi, yi, xj, yj := star[i][0], star[i][1], star[j][0], star[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

func write(size int, path string) error {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	navy, gold := color.NRGBA{0x17, 0x32, 0x4d, 0xff}, color.NRGBA{0xf0, 0xa5, 0x00, 0xff}
	s := float64(size) / 64
	r := 14.0
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			x, y := (float64(px)+.5)/s, (float64(py)+.5)/s
			// The rounded square: outside its corners' circles stays transparent.
			cx, cy := math.Max(r, math.Min(64-r, x)), math.Max(r, math.Min(64-r, y))
			if math.Hypot(x-cx, y-cy) > r {
				continue
			}
			if inside(x, y) {
				img.Set(px, py, gold)
			} else {
				img.Set(px, py, navy)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}
