using HeadWise.Models;

namespace HeadWise.KvCache;

/// <summary>Which attention statistics a policy reads (computing them costs an explicit softmax instead of the fused kernel).</summary>
[Flags]
public enum KvStats
{
    None = 0,
    /// <summary>Per kept slot, the attention it received from every query so far, summed over the KV group (H2O).</summary>
    Cumulative = 1,
    /// <summary>Per kept slot, the attention from this step's last <see cref="KvPolicy.Window"/> queries (SnapKV).</summary>
    Window = 2,
    /// <summary>Per head, its kept keys and the current query (mean over the KV group), copied out of the tensors (LongHeads).</summary>
    Keys = 4,
    /// <summary>Per head, the mean absolute value of its attention output, summed over every step so far (SpAtten's head importance).</summary>
    HeadOutput = 8,
}

/// <summary>What a policy sees of one KV head: its kept slots (in no particular order), their positions and statistics.</summary>
public sealed class HeadView
{
    public required int Layer { get; init; }
    public required int Head { get; init; }
    /// <summary>Slots in use; Positions[i], Cumulative[i], Window[i] for i &lt; Count describe slot i.</summary>
    public required int Count { get; init; }
    public required long[] Positions { get; init; }
    public double[]? Cumulative { get; init; }
    public double[]? Window { get; init; }
    /// <summary>Keys of slots 0..Count-1, row-major [Count, d], and the current (last) query [d] (for <see cref="KvStats.Keys"/>).</summary>
    public float[]? Keys { get; init; }
    public float[]? Query { get; init; }
    /// <summary>Mean |attention output| of this head's queries, summed over the steps so far (for <see cref="KvStats.HeadOutput"/>).</summary>
    public double? OutputMagnitude { get; init; }
}

/// <summary>What a policy sees of one layer after it attended: the sequence length and every KV head.</summary>
public sealed class LayerView
{
    public required int Layer { get; init; }
    /// <summary>Tokens in the sequence, this step's included.</summary>
    public required long Length { get; init; }
    /// <summary>
    /// The length a ratio budget is a fraction of: <see cref="Length"/> when compressing chunk by chunk; after a one-shot
    /// compression, the length it compressed at (the capacity stays what it was then).
    /// </summary>
    public required long BudgetLength { get; init; }
    /// <summary>Tokens this step added (1 when decoding).</summary>
    public required int Step { get; init; }
    public required HeadView[] Heads { get; init; }
}

/// <summary>
/// A KV policy in the spirit of kvpress's presses: it decides which positions each KV head keeps; the cache does the keeping.
/// Most policies score each slot (<see cref="Score"/>; protected slots +inf) and the cache evicts the lowest down to the
/// head's capacity. Each policy declares its name and parameters once (a static <see cref="PolicyDeclaration"/> listed in
/// <see cref="KvPolicies"/>).
/// </summary>
public abstract class KvPolicy(ModelSpec spec, KvBudget budget)
{
    public ModelSpec Spec { get; } = spec;
    public KvBudget Budget { get; } = budget.Validate(spec);

    public abstract string Name { get; }

    /// <summary>
    /// Whether the policy's paper evicts while decoding (StreamingLLM's rolling window, H2O, SpAtten). After a one-shot
    /// compression, a policy that does not (SnapKV, PyramidKV, Ada-KV, HeadKV) only appends: decoding attends the kept
    /// cache with the fused kernel and computes no statistics.
    /// </summary>
    public abstract bool EvictsWhileDecoding { get; }

    public virtual KvStats Needs => KvStats.None;

    /// <summary>
    /// The longest sequence this policy runs a rotary model for: its trained context, unless the policy keeps the
    /// positions it attends within the trained range itself (LongHeads). Its cache's <see cref="IKvCache.MaxLength"/>.
    /// </summary>
    public virtual long MaxLength => Spec.ContextLength;

    /// <summary>The longest sequence under this policy: <see cref="MaxLength"/> for a rotary model, the context for learned positions (they cannot extend).</summary>
    public long LengthLimit => Spec.Positions == PositionKind.Rope ? Math.Max(MaxLength, Spec.ContextLength) : Spec.ContextLength;

    /// <summary>
    /// A fresh cache for one sequence under this policy: a <see cref="HeadWiseKvCache"/> that keeps what <see cref="Evictions"/>
    /// leaves, unless the policy keeps everything (<c>full</c>: <see cref="FullKvCache"/>) or chooses per step what is
    /// attended (its own <see cref="IKvCache"/>).
    /// </summary>
    public virtual IKvCache CreateCache(CompressMode mode) => new HeadWiseKvCache(Spec, this, mode);

    /// <summary>
    /// When true the cache does not drop an evicted slot's key and value but merges them into the kept slot of the same
    /// head whose key is most similar (cosine), weighted by both slots' cumulative attention (EMS).
    /// </summary>
    public virtual bool MergesEvicted => false;

    /// <summary>
    /// True once (layer, KV head) is pruned: its output is zero and it keeps nothing (SpAtten's head pruning). The cache
    /// asks before each step's attention, so a head pruned by this step's <see cref="Evictions"/> is silent from the next.
    /// </summary>
    public virtual bool IsPruned(int layer, int kvHead) => false;

    /// <summary>Queries in the observation window (for <see cref="KvStats.Window"/>).</summary>
    public virtual int Window => 0;

    /// <summary>Positions (layer, KV head) keeps once the sequence is <paramref name="length"/> long.</summary>
    public virtual long Capacity(int layer, int head, long length) => Budget.Tokens(layer, head, length);

    /// <summary>Per KV head, the slots to evict (null: keep all). The default evicts the lowest <see cref="Score"/> down to <see cref="Capacity"/>.</summary>
    public virtual int[]?[] Evictions(LayerView layer)
    {
        var result = new int[]?[layer.Heads.Length];
        for (int h = 0; h < result.Length; h++)
        {
            var head = layer.Heads[h];
            long cap = Capacity(layer.Layer, h, layer.BudgetLength);
            if (head.Count <= cap) continue;
            var p = Score(head, layer.Length, cap);
            result[h] = Ranking.Lowest(p, head.Count, (int)(head.Count - cap));
        }
        return result;
    }

    /// <summary>
    /// Per slot of <paramref name="head"/> (a sequence <paramref name="length"/> long, the head keeping
    /// <paramref name="capacity"/>): higher is kept first; +inf never evicted while capacity allows (kvpress's score).
    /// </summary>
    public virtual double[] Score(HeadView head, long length, long capacity) =>
        throw new NotImplementedException($"{Name} must override Score or Evictions");

    /// <summary>Recency as a priority: later positions rank higher.</summary>
    protected static double[] ByPosition(HeadView head)
    {
        var p = new double[head.Count];
        for (int i = 0; i < p.Length; i++) p[i] = head.Positions[i];
        return p;
    }

    /// <summary>Protects slots whose position is below <paramref name="sinks"/> or at/after <paramref name="recentFrom"/>.</summary>
    protected static double[] Protect(double[] p, HeadView head, long sinks, long recentFrom)
    {
        for (int i = 0; i < p.Length; i++)
            if (head.Positions[i] < sinks || head.Positions[i] >= recentFrom) p[i] = double.PositiveInfinity;
        return p;
    }

    protected double[] Required(double[]? stat, KvStats which) =>
        stat ?? throw new InvalidOperationException($"{Name}: the cache did not provide {which} statistics");
}

/// <summary>Index selection helpers.</summary>
public static class Ranking
{
    /// <summary>Indices of the <paramref name="m"/> lowest of values[0..count) (ties: earlier index first).</summary>
    public static int[] Lowest(double[] values, int count, int m)
    {
        if (m <= 0) return [];
        if (m >= count) return Enumerable.Range(0, count).ToArray();
        if (m <= 4)
        {
            // Decode evicts one or two slots a step: a few linear passes beat sorting.
            var chosen = new int[m];
            for (int k = 0; k < m; k++)
            {
                int best = -1;
                for (int i = 0; i < count; i++)
                {
                    if (Array.IndexOf(chosen, i, 0, k) >= 0) continue;
                    if (best < 0 || values[i] < values[best]) best = i;
                }
                chosen[k] = best;
            }
            return chosen;
        }
        var idx = Enumerable.Range(0, count).ToArray();
        Array.Sort(idx, (a, b) => values[a] != values[b] ? values[a].CompareTo(values[b]) : a.CompareTo(b));
        return idx[..m];
    }

    /// <summary>
    /// Pools <paramref name="scores"/> over neighbouring positions (kernel <paramref name="kernel"/>, odd) in position order:
    /// the maximum, or with <paramref name="average"/> the mean over the kernel (missing neighbours at the ends count as 0,
    /// as PyTorch's avg_pool1d with padding does).
    /// </summary>
    public static double[] PoolByPosition(double[] scores, long[] positions, int count, int kernel, bool average)
    {
        if (kernel <= 1) return scores.AsSpan(0, count).ToArray();
        var order = Enumerable.Range(0, count).ToArray();
        Array.Sort(positions.AsSpan(0, count).ToArray(), order);
        var pooled = new double[count];
        int r = kernel / 2;
        for (int j = 0; j < count; j++)
        {
            double acc = average ? 0 : double.NegativeInfinity;
            for (int o = Math.Max(0, j - r); o <= Math.Min(count - 1, j + r); o++)
                acc = average ? acc + scores[order[o]] : Math.Max(acc, scores[order[o]]);
            pooled[order[j]] = average ? acc / kernel : acc;
        }
        return pooled;
    }
}
