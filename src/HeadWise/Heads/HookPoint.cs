using System.Text.RegularExpressions;

namespace HeadWise.Heads;

/// <summary>
/// A parsed hook point name: its layer (null outside the blocks) and its kind from <see cref="HookPoints"/>, which says
/// which tensor axes hold heads and positions, so captures and interventions can slice any point by head and position.
/// </summary>
/// <param name="Name">The full name.</param>
/// <param name="Layer">The block, or null outside blocks.</param>
/// <param name="Kind">The row of the hook-point table.</param>
public sealed partial record HookPoint(string Name, int? Layer, HookPointKind Kind)
{
    /// <summary>Axis of the heads: 2 for [B,T,H,...] points, 1 for [B,H,T,S]; null when the point has no heads.</summary>
    public int? HeadAxis => Kind.HeadAxis;

    /// <summary>Axis of the (query) positions.</summary>
    public int PositionAxis => Kind.PositionAxis;

    /// <summary>True for scores and pattern, whose hooks can ask the forward pass for only some heads.</summary>
    public bool IsAttentionMap => Kind.Heads == HeadAxisKind.AttentionMap;

    /// <summary>True for k, v and rot_k, which hold KV heads (fewer than query heads under GQA).</summary>
    public bool HoldsKvHeads => Kind.Heads == HeadAxisKind.KvHeads;

    private static readonly Dictionary<string, HookPointKind> TopLevel = HookPoints.All.Where(k => !k.InBlock).ToDictionary(k => k.Suffix);
    private static readonly Dictionary<string, HookPointKind> BlockKinds = HookPoints.InBlock.ToDictionary(k => k.Suffix);

    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex BlockName();

    /// <summary>
    /// Parses <paramref name="name"/>; when it is not a hook point (of a model with <paramref name="layers"/> blocks) throws
    /// a <see cref="HeadWiseException"/> that lists the nearest valid names.
    /// </summary>
    public static HookPoint Parse(string name, int? layers = null)
    {
        if (name is null) throw new HeadWiseException("no hook point name given");
        if (TopLevel.TryGetValue(name, out var top)) return new HookPoint(name, null, top);
        var m = BlockName().Match(name);
        if (m.Success && BlockKinds.TryGetValue(m.Groups[2].Value, out var kind) && int.TryParse(m.Groups[1].Value, out int l))
        {
            if (layers is { } n && l >= n) throw new HeadWiseException($"hook point '{name}': layer {l} does not exist (the model has {n} layers)");
            return new HookPoint(name, l, kind);
        }
        var near = NearMatches(name, m.Success && int.TryParse(m.Groups[1].Value, out int at) ? at : 0);
        throw new HeadWiseException($"'{name}' is not a hook point; " + (near.Count > 0
            ? $"did you mean {string.Join(", ", near)}?"
            : "hook points are " + string.Join(", ", HookPoints.All.Select(k => k.Pattern))));
    }

    /// <summary>The valid names closest to <paramref name="name"/> (edit distance, on the whole name or the part after blocks.{L}.).</summary>
    internal static IReadOnlyList<string> NearMatches(string name, int layer)
    {
        var m = BlockName().Match(name);
        string tail = m.Success ? m.Groups[2].Value : name;
        var scored = HookPoints.All.Select(k =>
        {
            string full = k.NameIn(layer);
            int d = Math.Min(Distance(name, full), k.InBlock ? Distance(tail, k.Suffix) : int.MaxValue);
            if (tail.Length >= 4 && (full.StartsWith(name, StringComparison.Ordinal) || k.Suffix.StartsWith(tail, StringComparison.Ordinal))) d = 1; // cut short
            return (full, d);
        }).ToList();
        int limit = Math.Max(2, tail.Length / 3);
        return scored.Where(s => s.d <= limit).OrderBy(s => s.d).ThenBy(s => s.full, StringComparer.Ordinal).Take(4).Select(s => s.full).ToList();
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
