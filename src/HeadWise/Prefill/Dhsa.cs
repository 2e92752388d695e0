using System.Globalization;
using HeadWise.Models;
using HeadWise.Steering;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// DHSA (Xiong et al. 2025, arXiv 2510.24606, dynamic hierarchical sparse attention), simplified (docs/fidelity.md): the
/// sequence is cut into variable-length chunks, each chunk is represented by its mean query and mean key times the
/// square root of its length (the paper's length-normalised aggregation), chunk pairs are scored per head by those
/// representations, and each query chunk attends only the <see cref="Keep"/> share of its visible chunks that score
/// highest (plus the first chunk, the sink, and itself). Queries and keys are rotated back to position 0 (RoPE undone)
/// before they are averaged: a mean of vectors turned by different angles cancels and favours nearby chunks. Boundaries:
/// the paper learns a boundary predictor from shifts in the similarity of consecutive keys; here, within
/// [Chunk/2, 3 Chunk/2] tokens of the last boundary, the position where consecutive keys (averaged over KV heads) are
/// least alike. <see cref="Keep"/> = 1 keeps every chunk (dense).
/// </summary>
public sealed record Dhsa(int Chunk = 64, double Keep = 0.25, bool Unrotate = true) : ISparsePrefill
{
    public string Name => "dhsa";

    public string Parameters => string.Create(CultureInfo.InvariantCulture, $"chunk={Chunk},keep={Keep},unrotate={(Unrotate ? 1 : 0)}");

    private static readonly Dhsa Default = new();

    public static readonly IReadOnlyList<SteeringParams.Key> Keys =
    [
        new("chunk", $"mean chunk length in tokens ({Default.Chunk})", 2, 65_536, Integer: true),
        new("keep", $"share of each query chunk's visible chunks attended, 1 = every chunk ({Default.Keep})", 0, 1, MinExclusive: true),
        new("unrotate", $"1: undo RoPE before averaging a chunk's queries and keys, 0: average them rotated ({(Default.Unrotate ? 1 : 0)})", 0, 1, Integer: true),
    ];

    public static Dhsa Parse(string? text)
    {
        var p = SparsePrefills.Read("dhsa", text, Keys);
        return new Dhsa((int)p.Get("chunk", Default.Chunk), p.Get("keep", Default.Keep), p.Get("unrotate", Default.Unrotate ? 1 : 0) == 1);
    }

    public (long[] Bounds, Tensor Selected) Select(Tensor q, Tensor k, Tensor v, Rope? rope)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], start = s - t;
        int group = (int)(h / k.shape[1]);
        using var scope = torch.NewDisposeScope();
        if (!Unrotate) rope = null;
        var kf = Unrotated(k.to_type(ScalarType.Float32), 0, rope)[0];                            // [KvH, S, d]
        var bounds = Boundaries(kf.mean([0]), s);
        int n = bounds.Length - 1, first = Math.Min(Array.FindLastIndex(bounds, b => b <= start), n - 1), nq = n - first;
        var causal = ProxyAttn.Causal(nq, n);
        if (Keep >= 1) return (bounds, causal.unsqueeze(0).expand(h, nq, n).clone().MoveToOuterDisposeScope());

        var qf = Unrotated(q.to_type(ScalarType.Float32), start, rope)[0];                       // [H, T, d]
        var kc = Representations(group == 1 ? kf : kf.repeat_interleave(group, 0), bounds, 0, n); // [H, n, d]
        var qc = Representations(qf, bounds.Select(b => Math.Max(b, start) - start).ToArray(), first, n); // [H, nq, d]
        var scores = torch.matmul(qc, kc.transpose(1, 2)).masked_fill(causal.logical_not().unsqueeze(0), HeldScalars.NegativeInfinity);
        var rank = scores.sort(-1, descending: true, stable: true).Indices.argsort(-1);
        var budget = Enumerable.Range(first, nq).Select(i => (long)Math.Ceiling(Keep * (i + 1))).ToArray();
        var selected = rank.lt(torch.tensor(budget, [1, nq, 1])).logical_and(causal.unsqueeze(0));
        return (bounds, ProxyAttn.Always(selected, first, nq).MoveToOuterDisposeScope());
    }

    /// <summary>x [1, heads, L, d] at positions from..from+L-1, rotated back to position 0 (unchanged without RoPE).</summary>
    private static Tensor Unrotated(Tensor x, long from, Rope? rope) =>
        rope is null ? x : rope.Apply(x, torch.arange(-from, -from - x.shape[2], -1, dtype: ScalarType.Int64));

    /// <summary>Chunk boundaries over [0, s): each next one where consecutive key vectors x [S, d] are least alike, Chunk/2 to 3 Chunk/2 after the last.</summary>
    internal long[] Boundaries(Tensor x, long s)
    {
        var normed = x / x.norm(1, keepdim: true).clamp_min(HeldScalars.NormFloor);
        // similarity[i] = cos(x[i-1], x[i]) for i >= 1: a boundary before i is cheapest where it is lowest.
        var sim = s > 1 ? (normed.narrow(0, 1, s - 1) * normed.narrow(0, 0, s - 1)).sum(1).data<float>().ToArray() : [];
        var bounds = new List<long> { 0 };
        long lo = Math.Max(1, Chunk / 2), hi = Math.Max(lo, Chunk * 3 / 2);
        while (s - bounds[^1] > hi)
        {
            long last = bounds[^1], best = last + lo;
            for (long i = last + lo; i <= last + hi; i++) if (sim[i - 1] < sim[best - 1]) best = i;
            bounds.Add(best);
        }
        bounds.Add(s);
        return [.. bounds];
    }

    /// <summary>Per head, the mean of x [H, L, d] over each segment [b_j, b_j+1) for j in [from, to), times sqrt(its length) → [H, to - from, d].</summary>
    private static Tensor Representations(Tensor x, long[] bounds, int from, int to)
    {
        var parts = new List<Tensor>();
        for (int j = from; j < to; j++)
        {
            long len = bounds[j + 1] - bounds[j];
            using Scalar norm = 1.0 / Math.Sqrt(Math.Max(1, len));
            parts.Add(len == 0 ? torch.zeros(x.shape[0], 1, x.shape[2]) : x.narrow(1, bounds[j], len).sum(1, keepdim: true).mul(norm));
        }
        return torch.cat(parts, 1);
    }
}
