namespace HeadWise.Heads;

/// <summary>
/// One thing to capture: a hook point, optionally only some heads (query heads, or KV heads at k/v/rot_k) and only a range of
/// (query) positions of this forward call. Scores and pattern restricted to heads are computed for those heads only.
/// </summary>
/// <param name="Name">The hook point.</param>
/// <param name="Heads">Only these heads (query heads, or KV heads at k/v/rot_k); null for all.</param>
/// <param name="PositionStart">First (query) position of this forward call to keep.</param>
/// <param name="PositionCount">How many positions to keep; null for the rest.</param>
public sealed record CaptureSpec(string Name, IReadOnlyList<int>? Heads = null, long PositionStart = 0, long? PositionCount = null)
{
    public static implicit operator CaptureSpec(string name) => new(name);

    /// <summary>The pattern of one head: [B, 1, T, S].</summary>
    public static CaptureSpec Pattern(int layer, int head) => new(HookNames.ForLayer(layer).Pattern, [head]);
}
