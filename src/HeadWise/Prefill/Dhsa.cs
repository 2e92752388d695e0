using System.Globalization;
using HeadWise.Models;
using HeadWise.Steering;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// DHSA, dynamic hierarchical sparse attention (2025): the sequence is cut into variable-length chunks, each chunk is
/// represented by its mean query and mean key scaled by the square root of its length (the paper's length-normalised
/// aggregation), chunk pairs are scored per head by those representations, and each query chunk attends only the
/// <see cref="Keep"/> share of its visible chunks that score highest (plus the first chunk and itself). Boundaries: the
/// paper learns a boundary predictor; here, within [Chunk/2, 3 Chunk/2] tokens of the last boundary, the position where
/// consecutive values (averaged over KV heads) are least alike. <see cref="Keep"/> = 1 keeps every chunk (dense).
/// </summary>
public sealed record Dhsa(int Chunk = 64, double Keep = 0.25) : ISparsePrefill
{
    public string Name => "dhsa";

    public string Parameters => string.Create(CultureInfo.InvariantCulture, $"chunk={Chunk},keep={Keep}");

    private static readonly Dhsa Default = new();

    public static readonly IReadOnlyList<SteeringParams.Key> Keys =
    [
        new("chunk", $"mean chunk length in tokens ({Default.Chunk})", 2, 65_536, Integer: true),
        new("keep", $"share of each query chunk's visible chunks attended, 1 = every chunk ({Default.Keep})", 0, 1, MinExclusive: true),
    ];

    public static Dhsa Parse(string? text)
    {
        var p = SparsePrefills.Read("dhsa", text, Keys);
        return new Dhsa((int)p.Get("chunk", Default.Chunk), p.Get("keep", Default.Keep));
    }

    public (long[] Bounds, Tensor Selected) Select(Tensor q, Tensor k, Tensor v)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], start = s - t;
        int group = (int)(h / k.shape[1]);
        var bounds = Boundaries(v[0].to_type(ScalarType.Float32).mean([0]), s);
        int n = bounds.Length - 1, first = Array.FindLastIndex(bounds, b => b <= start), nq = n - first;
        first = Math.Min(first, n - 1);
        nq = n - first;
        var causal = ProxyAttn.Causal(nq, n);
        if (Keep >= 1) return (bounds, causal.unsqueeze(0).expand(h, nq, n).clone());

        var kf = (group == 1 ? k[0] : k[0].repeat_interleave(group, 0)).to_type(ScalarType.Float32); // [H, S, d]
        var qf = q[0].to_type(ScalarType.Float32);                                              // [H, T, d]
        var kc = Representations(kf, bounds, 0, n);                                               // [H, n, d]
        var qc = Representations(qf, bounds.Select(b => Math.Max(b, start) - start).ToArray(), first, n); // [H, nq, d]
        var scores = torch.matmul(qc, kc.transpose(1, 2)).masked_fill(causal.logical_not().unsqueeze(0), HeldScalars.NegativeInfinity);
        var rank = scores.argsort(-1, descending: true).argsort(-1);
        var budget = Enumerable.Range(first, nq).Select(i => (long)Math.Ceiling(Keep * (i + 1))).ToArray();
        var selected = rank.lt(torch.tensor(budget, [1, nq, 1])).logical_and(causal.unsqueeze(0));
        return (bounds, ProxyAttn.Always(selected, first, nq));
    }

    /// <summary>Chunk boundaries over [0, s): each next one where consecutive value vectors x [S, d] are least alike, Chunk/2 to 3 Chunk/2 after the last.</summary>
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
