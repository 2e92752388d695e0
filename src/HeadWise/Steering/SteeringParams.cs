using System.Globalization;

namespace HeadWise.Steering;

/// <summary>
/// `--steer-params key=value,...` for one method: each method declares its keys with a range; a key it does not know,
/// a value that is not a number or one out of range is one error naming it.
/// </summary>
public sealed class SteeringParams
{
    private readonly Dictionary<string, double> _values = [];

    /// <summary>A key a method takes: its meaning and its range (min exclusive when <paramref name="MinExclusive"/>).</summary>
    public sealed record Key(string Name, string Meaning, double Min, double Max, bool MinExclusive = false, bool Integer = false)
    {
        public string Usage => $"{Name} ({Meaning}; {(MinExclusive ? "(" : "[")}{Min.ToString(CultureInfo.InvariantCulture)}, {Max.ToString(CultureInfo.InvariantCulture)}])";
    }

    public static SteeringParams Parse(string method, string? text, IReadOnlyList<Key> keys)
    {
        var p = new SteeringParams();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            var key = keys.FirstOrDefault(k => kv.Length == 2 && k.Name == kv[0]);
            if (key is null)
                throw new HeadWiseException($"{method}: '{part}' is not key=value with a known key; keys: {string.Join(", ", keys.Select(k => k.Usage))}");
            if (!double.TryParse(kv[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v)
                || v < key.Min || v > key.Max || (key.MinExclusive && v == key.Min) || (key.Integer && v != Math.Floor(v)))
                throw new HeadWiseException($"{method}: {key.Name}={kv[1]} is out of range; {key.Usage}");
            p._values[key.Name] = v;
        }
        return p;
    }

    public double Get(string name, double fallback) => _values.TryGetValue(name, out var v) ? v : fallback;
}
