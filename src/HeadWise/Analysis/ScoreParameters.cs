using System.Globalization;

namespace HeadWise.Analysis;

/// <summary>
/// Reads a score's "key=value,..." text (`profile --score-params SCORE:...`): one loop and one wording of each error for
/// every score that takes parameters. The score keeps its own keys and defaults; this only splits and checks.
/// </summary>
public static class ScoreParameters
{
    /// <summary>Each "key=value" of <paramref name="text"/> in order, the key lower-cased; an unknown key is an error naming the known ones.</summary>
    public static IEnumerable<(string Key, string Value)> Read(string score, string? text, IReadOnlyDictionary<string, string> keys)
    {
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            string key = kv[0].ToLowerInvariant();
            if (kv.Length != 2 || !keys.ContainsKey(key))
                throw new HeadWiseException($"{score}: '{part}' is not key=value with a known key; keys: {string.Join(", ", keys.Keys)}");
            yield return (key, kv[1]);
        }
    }

    /// <summary>An integer of at least <paramref name="min"/>.</summary>
    public static int Integer(string score, string key, string value, int min) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) && x >= min
            ? x
            : throw new HeadWiseException($"{score}: {key}='{value}' must be an integer >= {min}");

    /// <summary>A finite number of at least 0.</summary>
    public static double NonNegative(string score, string key, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= 0 && !double.IsInfinity(d)
            ? d
            : throw new HeadWiseException($"{score}: {key}='{value}' must be a number >= 0");
}
