using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Prefill;

/// <summary>
/// Attention computed only over chosen key segments: for each query segment, each head's selected key segments are
/// gathered (padded to the longest selection among the heads, padding masked) and attended with the fused kernel under
/// the causal mask. With every causal segment selected it is dense causal attention.
/// </summary>
public static class BlockSparseAttention
{
    /// <param name="q">[1, H, T, d], queries at positions S - T .. S - 1.</param>
    /// <param name="k">[1, KvH, S, d] keys (RoPE applied).</param>
    /// <param name="v">[1, KvH, S, d] values.</param>
    /// <param name="bounds">Segment boundaries 0 = b0 &lt; ... &lt; bn = S.</param>
    /// <param name="selected">[H, nQ, n] bool: the last nQ segments hold the queries.</param>
    /// <param name="stats">Counts attended and causal (head, query segment, key segment) pairs.</param>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long[] bounds, Tensor selected, PrefillStats? stats = null)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], start = s - t;
        int n = bounds.Length - 1, nq = (int)selected.shape[1], group = (int)(h / k.shape[1]);
        var sel = selected.to_type(ScalarType.Bool).contiguous().data<bool>().ToArray();
        // Keys and values per query head (a KV head serves its group).
        var kh = group == 1 ? k[0] : k[0].repeat_interleave(group, 0);
        var vh = group == 1 ? v[0] : v[0].repeat_interleave(group, 0);
        var outputs = new List<Tensor>(nq);
        long computed = 0, causal = 0;
        for (int qi = 0; qi < nq; qi++)
        {
            int seg = n - nq + qi;
            long qs = Math.Max(bounds[seg], start), qe = bounds[seg + 1];
            var rows = new List<long>[h];
            for (int head = 0; head < h; head++)
            {
                rows[head] = [];
                for (int j = 0; j <= seg; j++)
                {
                    if (!sel[(head * nq + qi) * n + j]) continue;
                    computed++;
                    for (long p = bounds[j]; p < Math.Min(bounds[j + 1], qe); p++) rows[head].Add(p);
                }
                causal += seg + 1;
            }
            int width = rows.Max(r => r.Count);
            var qseg = q.narrow(2, qs - start, qe - qs);
            if (rows.All(r => r.Count == qe))
            {
                // Every head attends every key up to the segment's end: the keys as stored, no gather.
                using var dense = torch.NewDisposeScope();
                var causalMask = torch.arange(qe).unsqueeze(0).le(torch.arange(qs, qe).unsqueeze(1));
                outputs.Add(F.scaled_dot_product_attention(qseg, kh.narrow(1, 0, qe).unsqueeze(0), vh.narrow(1, 0, qe).unsqueeze(0), causalMask).MoveToOuterDisposeScope());
                continue;
            }
            var index = new long[h * width];
            var valid = new bool[h * width];
            for (int head = 0; head < h; head++)
                for (int i = 0; i < rows[head].Count; i++) { index[head * width + i] = rows[head][i]; valid[head * width + i] = true; }
            using var scope = torch.NewDisposeScope();
            var idx = torch.tensor(index, [h, width]);
            var gather = idx.unsqueeze(-1).expand(h, width, k.shape[3]);
            var ks = kh.gather(1, gather).unsqueeze(0);
            var vs = vh.gather(1, gather).unsqueeze(0);
            var positions = torch.arange(qs, qe, dtype: ScalarType.Int64).view(1, -1, 1);
            var mask = torch.tensor(valid, [h, 1, width]).logical_and(idx.unsqueeze(1).le(positions)).unsqueeze(0); // [1, H, Tq, W]
            outputs.Add(F.scaled_dot_product_attention(qseg, ks, vs, mask).MoveToOuterDisposeScope());
        }
        stats?.Add(computed, causal);
        return torch.cat(outputs, 2);
    }
}
