using HeadWise.Models;

namespace HeadWise.KvCache.Policies;

/// <summary>
/// `longheads` (LongHeads, Lu et al. 2024, "LongHeads: Multi-Head Attention is Secretly a Long Context Processor"): the
/// context is split into chunks of <see cref="Chunk"/> positions (paper: 256); each KV head keeps the first chunk, the
/// local (most recent) chunk and the chunks whose mean key is most similar (inner product) to its current query (mean
/// over the KV group), within its budget. The first and local chunks take at most a quarter of the budget each, so small
/// budgets still leave room to retrieve. LongHeads selects per step without evicting; in a memory-saving cache an
/// unselected chunk is evicted for good, and a chunk's mean is over the rows the head still keeps.
/// </summary>
public sealed class LongHeadsPolicy(ModelSpec spec, KvBudget budget, int chunk) : KvPolicy(spec, budget)
{
    public static PolicyDeclaration Declaration { get; } = new("longheads", "LongHeads (Lu et al. 2024)",
        "first + local chunk + the chunks whose mean key best matches the query (simplified: evicts unselected chunks, no position remapping; docs/fidelity.md)",
        [PolicyParameter.Integer("chunk", 256, "positions per chunk (the paper's 256)", min: 1)],
        a => new LongHeadsPolicy(a.Spec, a.Budget, a.Integer("chunk")));

    public int Chunk { get; } = chunk;
    public override string Name => "longheads";
    public override bool EvictsWhileDecoding => true;
    public override KvStats Needs => KvStats.Keys;

    public override double[] Score(HeadView head, long length, long capacity)
    {
        var keys = head.Keys ?? throw new InvalidOperationException("longheads: the cache did not provide keys");
        var q = head.Query!;
        int d = q.Length;
        // Per chunk: the sum of its kept keys' inner products with the query, and how many it keeps (mean = sum / n).
        var sum = new Dictionary<long, (double Dot, int N)>();
        for (int i = 0; i < head.Count; i++)
        {
            double dot = 0;
            for (int j = 0; j < d; j++) dot += keys[i * d + j] * q[j];
            long c = head.Positions[i] / Chunk;
            var e = sum.GetValueOrDefault(c);
            sum[c] = (e.Dot + dot, e.N + 1);
        }
        var p = new double[head.Count];
        for (int i = 0; i < p.Length; i++)
        {
            var e = sum[head.Positions[i] / Chunk];
            p[i] = e.Dot / e.N;
        }
        long edge = Math.Min(Chunk, capacity / 4);
        return Protect(p, head, edge, length - edge);
    }
}
