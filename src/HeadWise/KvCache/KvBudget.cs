using System.Globalization;
using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>
/// How many positions a KV head may keep: a ratio (<c>0.25</c>, in (0, 1]) of the tokens in the cache when it
/// compresses (<see cref="CompressMode"/>: the context, context and question, or the sequence so far), or a token count
/// (<c>512</c>, an integer &gt;= 1); one value for the model, one per layer (<c>a,b,c</c>) or one per KV head
/// (layers separated by <c>;</c>, heads by <c>,</c>).
/// </summary>
public sealed class KvBudget
{
    private readonly Entry[][] _values; // [1][1], [L][1] or [L][KvH]

    private KvBudget(Entry[][] values, string text) { _values = values; Text = text; }

    /// <summary>The text the budget was parsed from.</summary>
    public string Text { get; }

    /// <summary>One budget for every head.</summary>
    public static KvBudget Model(double ratioOrTokens) => Parse(ratioOrTokens.ToString(CultureInfo.InvariantCulture));

    /// <summary>kvpress's compression ratio R, the fraction of the tokens removed when the cache compresses ([0, 1)), as the ratio budget 1 - R.</summary>
    public static KvBudget FromCompressionRatio(double ratio)
    {
        if (!(ratio >= 0 && ratio < 1))
            throw new HeadWiseException($"compression ratio {ratio.ToString(CultureInfo.InvariantCulture)} is outside [0, 1): it is the fraction of the tokens removed (0.75 keeps a quarter; 0 keeps all)");
        return Parse(Math.Round(1 - ratio, 12).ToString("0.0###########", CultureInfo.InvariantCulture));
    }

    /// <summary>Keep everything.</summary>
    public static KvBudget All { get; } = new([[new Entry(1.0, 0)]], "1.0");

    public static KvBudget Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new HeadWiseException("--budget is empty; give a ratio in (0, 1] like 0.25 or a token count like 512");
        var layers = text.Split(';', StringSplitOptions.TrimEntries);
        var values = layers.Select(l => l.Split(',', StringSplitOptions.TrimEntries).Select(v => ParseOne(v, text)).ToArray()).ToArray();
        if (layers.Length == 1 && values[0].Length > 1) values = values[0].Select(v => new[] { v }).ToArray(); // a,b,c: per layer
        return new KvBudget(values, text);
    }

    private static Entry ParseOne(string v, string whole)
    {
        bool integer = v.All(char.IsDigit) && v.Length > 0;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) || double.IsNaN(x))
            throw new HeadWiseException($"budget '{v}' (in '{whole}') is not a number; give a ratio in (0, 1] like 0.25 or a token count like 512");
        if (integer)
        {
            if (x < 1) throw new HeadWiseException($"budget '{v}' (in '{whole}') is a token count and must be >= 1");
            return new Entry(0, (long)x);
        }
        if (x <= 0 || x > 1) throw new HeadWiseException($"budget '{v}' (in '{whole}') is a ratio and must be in (0, 1]; write a token count without a decimal point");
        return new Entry(x, 0);
    }

    /// <summary>Throws unless the per-layer / per-head shape matches <paramref name="spec"/>.</summary>
    public KvBudget Validate(ModelSpec spec)
    {
        if (_values.Length != 1 && _values.Length != spec.Layers)
            throw new HeadWiseException($"budget '{Text}' has {_values.Length} layers but the model has {spec.Layers}");
        foreach (var row in _values)
            if (row.Length != 1 && row.Length != spec.KvHeads)
                throw new HeadWiseException($"budget '{Text}' has a layer with {row.Length} heads but the model has {spec.KvHeads} KV heads");
        return this;
    }

    /// <summary>True when some entry is a ratio (a fraction of the tokens at the compression point), not a token count.</summary>
    public bool HasRatio => _values.Any(r => r.Any(e => e.Tokens == 0));

    /// <summary>True when every entry is a ratio of 1 (nothing is ever evicted).</summary>
    public bool KeepsAll => _values.All(r => r.All(e => e.Tokens == 0 && e.Ratio >= 1));

    /// <summary>Positions (layer, KV head) may keep once the sequence is <paramref name="length"/> tokens long (never more than length).</summary>
    public long Tokens(int layer, int kvHead, long length)
    {
        var row = _values.Length == 1 ? _values[0] : _values[layer];
        var e = row.Length == 1 ? row[0] : row[kvHead];
        long n = e.Tokens > 0 ? e.Tokens : (long)Math.Ceiling(e.Ratio * length - 1e-9);
        return Math.Clamp(n, Math.Min(1, length), length);
    }

    /// <summary>The model-wide budget at <paramref name="length"/> as a mean over heads (what layer- or head-level policies redistribute).</summary>
    public double MeanTokens(ModelSpec spec, long length)
    {
        double sum = 0;
        for (int l = 0; l < spec.Layers; l++)
            for (int h = 0; h < spec.KvHeads; h++) sum += Tokens(l, h, length);
        return sum / (spec.Layers * spec.KvHeads);
    }

    public override string ToString() => Text;

    private readonly record struct Entry(double Ratio, long Tokens);
}
