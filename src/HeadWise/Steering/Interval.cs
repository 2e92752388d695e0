namespace HeadWise.Steering;

/// <summary>A mean with its 95% interval: Wilson's for scores that are all 0 or 1, else the normal approximation.</summary>
public readonly record struct Interval(double Mean, double Low, double High, int N)
{
    private const double Z95 = 1.959964;

    public static Interval Of(IReadOnlyList<double> xs)
    {
        int n = xs.Count;
        if (n == 0) throw new HeadWiseException("no scores to summarise");
        double mean = xs.Average();
        if (xs.All(x => x is 0 or 1))
        {
            double z2 = Z95 * Z95, centre = (mean + z2 / (2 * n)) / (1 + z2 / n);
            double half = Z95 * Math.Sqrt(mean * (1 - mean) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
            return new Interval(mean, Math.Max(0, centre - half), Math.Min(1, centre + half), n);
        }
        double sd = n > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (n - 1)) : 0;
        return new Interval(mean, mean - Z95 * sd / Math.Sqrt(n), mean + Z95 * sd / Math.Sqrt(n), n);
    }

    /// <summary>The paired difference b - a (same prompts), normal approximation.</summary>
    public static Interval Difference(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        if (a.Count != b.Count) throw new ArgumentException("paired scores need the same prompts");
        var d = a.Zip(b, (x, y) => y - x).ToList();
        double mean = d.Average(), sd = d.Count > 1 ? Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / (d.Count - 1)) : 0;
        return new Interval(mean, mean - Z95 * sd / Math.Sqrt(d.Count), mean + Z95 * sd / Math.Sqrt(d.Count), d.Count);
    }

    public override string ToString() => $"{Mean * 100:F1}% [{Low * 100:F1}, {High * 100:F1}] (n={N})";
}
