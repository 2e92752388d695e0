using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Prefill;

/// <summary>
/// Attention computed only over chosen key segments. Each (head, query segment) pair attends its selected earlier
/// segments and its own segment (causally). The pairs are sorted by how many keys they attend and cut into batches;
/// each batch is one gather of its keys and values, one gather of its queries and one fused attention call over
/// [pairs, queries, keys], so the work follows the selection and no C# loop runs per block. Pairs of the same shape
/// (fixed blocks give few shapes) share one [queries, keys] mask; a batch of pairs of different widths pads the
/// narrower ones and needs a mask per pair, which the fused kernel runs several times slower (measured: 0.9 s against
/// 0.2 s at 2,048 tokens), so such batches are formed only where same-shape groups would be small. With every causal
/// segment selected it is dense causal attention.
/// </summary>
public static class BlockSparseAttention
{
    /// <summary>Keys gathered per batch (pairs x widest pair): bounds the batch's K/V copies and mask.</summary>
    internal const long BatchKeys = 1 << 18;

    /// <param name="q">[1, H, T, d], queries at positions S - T .. S - 1.</param>
    /// <param name="k">[1, KvH, S, d] keys (RoPE applied).</param>
    /// <param name="v">[1, KvH, S, d] values.</param>
    /// <param name="bounds">Segment boundaries 0 = b0 &lt; ... &lt; bn = S.</param>
    /// <param name="selected">[H, nQ, n] bool: the last nQ segments hold the queries; a pair's own segment is attended whatever it says.</param>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long[] bounds, Tensor selected)
    {
        long h = q.shape[1], t = q.shape[2], s = k.shape[2], d = q.shape[3], start = s - t, kvh = k.shape[1];
        int n = bounds.Length - 1, nq = (int)selected.shape[1];
        long group = h / kvh;
        var sel = selected.to_type(ScalarType.Bool).contiguous().data<bool>().ToArray();

        // Every pair: its head, query segment, attended earlier segments and its width (earlier keys + its own segment's).
        var pairs = new List<Pair>((int)(h * nq));
        for (int head = 0; head < h; head++)
            for (int qi = 0; qi < nq; qi++)
            {
                int seg = n - nq + qi;
                var past = new List<int>();
                long width = bounds[seg + 1] - bounds[seg];
                for (int j = 0; j < seg; j++)
                    if (sel[((long)head * nq + qi) * n + j]) { past.Add(j); width += bounds[j + 1] - bounds[j]; }
                pairs.Add(new Pair(head, seg, past, width, bounds[seg + 1] - Math.Max(bounds[seg], start)));
            }
        pairs.Sort((a, b) => a.Shape(bounds, start).CompareTo(b.Shape(bounds, start)));
        // Fixed blocks (every segment Block long, S a multiple): keys and queries are gathered a block at a time.
        long block = bounds[1];
        bool blocks = s % block == 0 && Enumerable.Range(0, n).All(j => bounds[j + 1] - bounds[j] == block);

        using var qFlat = q[0].reshape(h * t, d);
        using var kFlat = k[0].reshape(kvh * s, d);
        using var vFlat = v[0].reshape(kvh * s, d);
        var output = torch.zeros([h * t, d], q.dtype);
        for (int from = 0; from < pairs.Count;)
        {
            // A batch: the pairs of one shape (within BatchKeys gathered keys); when there are fewer than MinBatch of
            // them, also the next pairs up to an eighth (or 64 keys) narrower than its widest, padded.
            long widest = pairs[from].Width, slack = Math.Max(64, widest / 8);
            var shape = pairs[from].Shape(bounds, start);
            int to = from + 1;
            while (to < pairs.Count && pairs[to].Shape(bounds, start) == shape && (to - from + 1) * widest <= BatchKeys) to++;
            if (to - from < MinBatch)
                while (to < pairs.Count && widest - pairs[to].Width <= slack && (to - from + 1) * widest <= BatchKeys) to++;
            AttendBatch(pairs.GetRange(from, to - from), widest, bounds, start, t, s, group, blocks, qFlat, kFlat, vFlat, output);
            from = to;
        }
        return output.view(1, h, t, d);
    }

    /// <summary>Same-shape groups smaller than this are merged with their neighbours (padded).</summary>
    private const int MinBatch = 8;

    private sealed record Pair(int Head, int Segment, List<int> Past, long Width, long Queries)
    {
        /// <summary>Widest first; pairs equal here share one mask: width, query rows, own segment length, first query's place in it.</summary>
        public (long, long, long, long) Shape(long[] bounds, long start) =>
            (-Width, Queries, bounds[Segment + 1] - bounds[Segment], Math.Max(bounds[Segment], start) - bounds[Segment]);
    }

    private static void AttendBatch(List<Pair> batch, long width, long[] bounds, long start, long t, long s, long group, bool blocks,
        Tensor qFlat, Tensor kFlat, Tensor vFlat, Tensor output)
    {
        int p = batch.Count;
        long rows = batch.Max(x => x.Queries), d = qFlat.shape[1];
        var keyIndex = new long[p * width];
        var keyPos = new long[p * width];
        var queryIndex = new long[p * rows];
        var queryPos = new long[p * rows];
        long ownLength = -1, offset = -1;
        bool uniform = true;
        for (int i = 0; i < p; i++)
        {
            var x = batch[i];
            long kvBase = x.Head / group * s, at = i * width;
            foreach (var j in x.Past.Append(x.Segment))
                for (long pos = bounds[j]; pos < bounds[j + 1]; pos++) { keyIndex[at] = kvBase + pos; keyPos[at++] = pos; }
            for (; at < (i + 1) * width; at++) { keyIndex[at] = kvBase; keyPos[at] = long.MaxValue; } // padding: never visible
            long first = Math.Max(bounds[x.Segment], start);
            for (long r = 0; r < rows; r++)
            {
                long pos = first + Math.Min(r, x.Queries - 1); // padding rows repeat the last query: same result, written twice
                queryIndex[i * rows + r] = x.Head * t + pos - start;
                queryPos[i * rows + r] = pos;
            }
            // One mask serves the batch when every pair has the same width, query rows, own segment length and first query's place in it.
            long own = bounds[x.Segment + 1] - bounds[x.Segment];
            if (i == 0) (ownLength, offset) = (own, first - bounds[x.Segment]);
            uniform &= x.Width == width && x.Queries == rows && own == ownLength && first - bounds[x.Segment] == offset;
        }

        using var scope = torch.NewDisposeScope();
        // Mask: a key is visible when it is not padding and not after the query.
        var kp = torch.tensor(keyPos, [1, p, 1, width]);
        var qp = torch.tensor(queryPos, [1, p, rows, 1]);
        var mask = uniform ? kp.narrow(1, 0, 1).le(qp.narrow(1, 0, 1)) : kp.le(qp);
        long block = bounds[1];
        if (blocks && uniform && rows == block && offset == 0 && start % block == 0)
        {
            // Whole blocks everywhere: gather rows of block x d (the same elements as the token indices below, fewer and larger copies).
            var kb = torch.tensor(Enumerable.Range(0, (int)(p * width / block)).Select(b => keyIndex[b * block] / block).ToArray());
            var qb = torch.tensor(Enumerable.Range(0, p).Select(i => queryIndex[i * rows] / block).ToArray());
            var kBlocks = kFlat.view(-1, block * d);
            var zb = F.scaled_dot_product_attention(qFlat.view(-1, block * d).index_select(0, qb).view(1, p, rows, d),
                kBlocks.index_select(0, kb).view(1, p, width, d), vFlat.view(-1, block * d).index_select(0, kb).view(1, p, width, d), mask);
            output.view(-1, block * d).index_copy_(0, qb, zb.view(p, block * d));
            return;
        }
        var ki = torch.tensor(keyIndex);
        var qi = torch.tensor(queryIndex);
        var ks = kFlat.index_select(0, ki).view(1, p, width, d);
        var vs = vFlat.index_select(0, ki).view(1, p, width, d);
        var qs = qFlat.index_select(0, qi).view(1, p, rows, d);
        var z = F.scaled_dot_product_attention(qs, ks, vs, mask);
        output.index_copy_(0, qi, z.view(p * rows, d));
    }
}
