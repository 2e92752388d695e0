using System.Globalization;

namespace HeadWise.Eval;

/// <summary>
/// A KV budget as users write it: a ratio of the context in (0, 1] ("0.25") or a token count >= 1 ("512").
/// A string with a decimal point or below 1 is a ratio; a whole number >= 1 is tokens ("1" is one token, "1.0" the whole context).
/// </summary>
public sealed record KvBudget(string Text, double? Ratio, int? Tokens)
{
    public static readonly KvBudget Full = new("1.0", 1.0, null);

    public static KvBudget Parse(string text)
    {
        var t = text.Trim();
        if (t is "full") return Full;
        if (!t.Contains('.') && int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
            return n >= 1 ? new KvBudget(t, null, n)
                : throw new HeadWiseException($"budget '{text}' is not valid: a token budget must be >= 1");
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var r))
            return r > 0 && r <= 1 ? new KvBudget(t, r, null)
                : throw new HeadWiseException($"budget '{text}' is not valid: a ratio must be in (0, 1]");
        throw new HeadWiseException($"budget '{text}' is not valid: give a ratio of the context in (0, 1] (e.g. 0.25) or a token count >= 1 (e.g. 512)");
    }

    /// <summary>Positions to keep per KV head for a context of <paramref name="contextTokens"/>.</summary>
    public int TokensFor(int contextTokens) =>
        Tokens is int n ? Math.Min(n, contextTokens) : Math.Max(1, (int)Math.Round(Ratio!.Value * contextTokens));

    public override string ToString() => Text;
}
