using SkiaSharp;

namespace HeadWise.Tests;

/// <summary>How much is drawn on an image: distinct colours and the share of non-white pixels (every second pixel read).</summary>
internal static class PngInk
{
    public static (int Colours, double InkShare) Measure(SKBitmap bitmap)
    {
        var colours = new HashSet<uint>();
        long ink = 0, total = 0;
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add((uint)c);
                total++;
                if (c.Red < 235 || c.Green < 235 || c.Blue < 235) ink++;
            }
        return (colours.Count, (double)ink / total);
    }
}
