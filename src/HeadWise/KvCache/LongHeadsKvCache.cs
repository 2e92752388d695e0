using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.KvCache;

/// <summary>
/// LongHeads' cache (<see cref="LongHeadsPolicy"/>): every position is kept (keys after RoPE at their own positions, in
/// a <see cref="FullKvCache"/>), and each completed chunk of w positions gets, per query head, a representative key, as
/// the paper's released code computes it: the chunk's queries attend its keys and values (all of them, positions
/// within the chunk); the mean output is the chunk's summary; the summary's attention over the chunk's keys weights
/// them into the representative.
/// While the sequence fits the window (n chunks), queries attend everything with the model's own kernel. Past it, each
/// query head picks, for each query, chunk 0, the n - 3 chunks of 1..c-2 whose representatives score highest against
/// its query (before RoPE), the chunk c-1 and the query's own chunk c up to the query, and attends them laid out in
/// order at positions 0..: chunk slot r at r·w + offset, the query at (n-1)·w + its offset, all within the window.
/// </summary>
public sealed class LongHeadsKvCache : IKvCache, IAttendedShare
{
    private readonly ModelSpec _spec;
    private readonly FullKvCache _store;
    private readonly int _w, _n;
    private readonly Tensor?[] _reps;     // per layer [H, chunks completed, d] float32
    private readonly Tensor?[] _pending;  // per layer [1, H, p, d] float32: queries (chunk-local positions) of the unfinished chunk
    private readonly Scalar _scale;

    public LongHeadsKvCache(LongHeadsPolicy policy)
    {
        Policy = policy;
        _spec = policy.Spec;
        _w = policy.Chunk;
        _n = policy.WindowChunks;
        _store = new FullKvCache(_spec, maxLength: policy.MaxLength);
        _reps = new Tensor?[_spec.Layers];
        _pending = new Tensor?[_spec.Layers];
        _scale = (1.0 / Math.Sqrt(_spec.HeadDim)).ToScalar();
    }

    public LongHeadsPolicy Policy { get; }

    /// <summary>Test seam: every query goes through chunk selection, also while the sequence fits the window (where it selects everything).</summary>
    internal bool AlwaysSelect { get; init; }

    /// <summary>Queries attended per forward since the start, and the keys they attended (for the attended share).</summary>
    public long AttendedKeys { get; private set; }
    public long AvailableKeys { get; private set; }

    public long Length => _store.Length;

    /// <summary>The full cache plus the chunk representatives.</summary>
    public long Bytes => _store.Bytes + _reps.Sum(r => r is null ? 0 : r.numel() * sizeof(float));

    public long PeakBytes => Bytes;

    public long MaxLength => Policy.MaxLength;

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        long start = attention.Start, t = q.shape[2], s = start + t;
        bool select = AlwaysSelect || s > (long)_n * _w;
        if (select && attention.HooksReadScores(layer))
        {
            var names = Heads.HookNames.ForLayer(layer);
            throw new HeadWiseException($"{names.Scores} and {names.Pattern} are not computed once longheads selects chunks (past its window of " +
                                        $"{(long)_n * _w} tokens each head attends its own chunks in its own kernel)");
        }
        var (keys, values) = _store.Append(layer, k, v);
        var rope = attention.Rope;
        UpdateRepresentatives(layer, ToChunkLocal(rope, Float(q), start), keys, values, start, s, rope);
        if (!select) return attention.Attend(layer, q, keys, values);
        return Selected(layer, q, keys, values, start, rope);
    }

    /// <summary>Rotates x [1, heads, T, d] (its tokens at start..) back to positions within their chunk.</summary>
    private Tensor ToChunkLocal(Rope? rope, Tensor x, long start)
    {
        if (rope is null) return x;
        long t = x.shape[2];
        var delta = new long[t];
        for (long i = 0; i < t; i++) delta[i] = -((start + i) / _w) * _w;
        using var positions = torch.tensor(delta);
        return rope.Apply(x, positions);
    }

    /// <summary>Adds the representative key of every chunk completed by this call's tokens (paper: one per chunk and head).</summary>
    private void UpdateRepresentatives(int layer, Tensor qLocal, Tensor keys, Tensor values, long start, long s, Rope? rope)
    {
        long chunkStart = start / _w * _w;
        var queries = _pending[layer] is { } p ? torch.cat([p, qLocal], 2) : qLocal; // positions chunkStart..s-1
        long done = (s - chunkStart) / _w;
        if (done > 0)
        {
            int h = _spec.Heads, kvh = _spec.KvHeads, d = _spec.HeadDim, group = _spec.GroupSize;
            long g = done;
            // [g, H, w, d]: one batch row per chunk.
            var qc = queries.narrow(2, 0, g * _w).reshape(h, g, _w, d).transpose(0, 1);
            var kc = ToChunkLocal(rope, Float(keys.narrow(2, chunkStart, g * _w)), chunkStart).reshape(kvh, g, _w, d).transpose(0, 1);
            var vc = Float(values.narrow(2, chunkStart, g * _w)).reshape(kvh, g, _w, d).transpose(0, 1);
            if (group > 1) { kc = kc.repeat_interleave(group, 1); vc = vc.repeat_interleave(group, 1); }
            var summary = F.scaled_dot_product_attention(qc, kc, vc).mean([2], keepdim: true); // [g, H, 1, d]
            var reps = F.scaled_dot_product_attention(summary, kc, kc).squeeze(2).transpose(0, 1); // [H, g, d]
            var all = _reps[layer] is { } old ? torch.cat([old, reps], 1) : reps;
            _reps[layer]?.Dispose();
            _reps[layer] = all.contiguous().DetachFromDisposeScope();
        }
        var rest = queries.narrow(2, done * _w, s - chunkStart - done * _w).contiguous().DetachFromDisposeScope();
        _pending[layer]?.Dispose();
        _pending[layer] = rest;
    }

    /// <summary>
    /// Per query head and query: the chunks it attends (slot r → chunk) and how many slots it uses. With c + 1 &lt;= n
    /// chunks so far every chunk is its own slot (positions unchanged); past that, n slots as the class summary says.
    /// </summary>
    private (long[] Chunks, int[] Used) Select(int layer, Tensor qRaw, long start)
    {
        int h = _spec.Heads, n = _n;
        long t = qRaw.shape[2];
        var chunks = new long[h * t * n];
        var used = new int[t];
        float[]? scores = null;
        long g = _reps[layer]?.shape[1] ?? 0;
        if (g > 0 && (start + t - 1) / _w + 1 > n)
            scores = torch.matmul(qRaw[0], _reps[layer]!.transpose(1, 2)).contiguous().data<float>().ToArray(); // [H, T, g]
        var candidates = new List<long>();
        for (long i = 0; i < t; i++)
        {
            long c = (start + i) / _w;
            if (c + 1 <= n)
            {
                used[i] = (int)(c + 1);
                for (int head = 0; head < h; head++)
                    for (int r = 0; r <= c; r++) chunks[(head * t + i) * n + r] = r;
                continue;
            }
            used[i] = n;
            for (int head = 0; head < h; head++)
            {
                long row = (head * t + i) * g;
                candidates.Clear();
                for (long x = 1; x <= c - 2; x++) candidates.Add(x);
                // Highest score first; ties: the earlier chunk.
                candidates.Sort((a, b) =>
                {
                    int byScore = scores![row + b].CompareTo(scores[row + a]);
                    return byScore != 0 ? byScore : a.CompareTo(b);
                });
                var picked = candidates.Take(n - 3).Order().ToArray();
                long at = (head * t + i) * n;
                chunks[at] = 0;
                for (int r = 0; r < picked.Length; r++) chunks[at + 1 + r] = picked[r];
                chunks[at + n - 2] = c - 1;
                chunks[at + n - 1] = c;
            }
        }
        return (chunks, used);
    }

    private Tensor Selected(int layer, Tensor q, Tensor keys, Tensor values, long start, Rope? rope)
    {
        int h = _spec.Heads, kvh = _spec.KvHeads, d = _spec.HeadDim, group = _spec.GroupSize, n = _n, w = _w;
        long t = q.shape[2], s = keys.shape[2];
        var qf = Float(q);
        Tensor qRaw = qf;
        if (rope is not null)
        {
            var back = new long[t];
            for (long i = 0; i < t; i++) back[i] = -(start + i);
            using var positions = torch.tensor(back);
            qRaw = rope.Apply(qf, positions);
        }
        var (chunks, used) = Select(layer, qRaw, start);
        for (long i = 0; i < t; i++)
        {
            AttendedKeys += (long)h * ((used[i] - 1) * (long)w + (start + i) % w + 1);
            AvailableKeys += (long)h * (start + i + 1);
        }

        // Keys at chunk-local positions, padded to whole chunks, one row per (KV head, chunk).
        long chunkCount = (s + w - 1) / w;
        var kLocal = ToChunkLocal(rope, Float(keys), 0);
        var vf = Float(values);
        if (chunkCount * w > s)
        {
            using var pad = torch.zeros(1, kvh, chunkCount * w - s, d);
            kLocal = torch.cat([kLocal, pad], 2);
            vf = torch.cat([vf, pad], 2);
        }
        var kRows = kLocal.reshape(kvh * chunkCount, w, d);
        var vRows = vf.reshape(kvh * chunkCount, w, d);

        // Query blocks small enough that the gathered keys and values stay near 64 MB.
        long block = Math.Max(1, Math.Min(t, (1L << 24) / ((long)h * n * w * d)));
        var outputs = new List<Tensor>();
        for (long b0 = 0; b0 < t; b0 += block)
        {
            long bt = Math.Min(block, t - b0);
            using var scope = torch.NewDisposeScope(); // each block's gathered keys and values go before the next
            var index = new long[h * bt * n];
            var queryShift = new long[bt * n];   // rotation of the query for slot r: to its remapped position minus the slot's start
            var allowed = new bool[bt * n * w];
            for (long i = 0; i < bt; i++)
            {
                long abs = start + b0 + i, offset = abs % w;
                int m = used[b0 + i];
                long pos = (m - 1) * (long)w + offset;
                for (int r = 0; r < n; r++)
                {
                    queryShift[i * n + r] = pos - (long)r * w - abs;  // one rotation from where the query sits
                    for (int o = 0; o < w; o++) allowed[(i * n + r) * w + o] = r < m - 1 || (r == m - 1 && o <= offset);
                }
                for (int head = 0; head < h; head++)
                    for (int r = 0; r < n; r++)
                        index[(head * bt + i) * n + r] = (head / group) * chunkCount + chunks[(head * t + b0 + i) * n + r];
            }
            using var idx = torch.tensor(index);
            var kg = kRows.index_select(0, idx).reshape(h * bt, n, w, d);
            var vg = vRows.index_select(0, idx).reshape(h * bt, n * w, d);
            // [1, H, bt * n, d]: each query once per slot, rotated to (its position - the slot's first position).
            var qs = qf.narrow(2, b0, bt).unsqueeze(3).expand(1, h, bt, n, d).reshape(1, h, bt * n, d);
            if (rope is not null)
            {
                using var shift = torch.tensor(queryShift);
                qs = rope.Apply(qs, shift);
            }
            var scores = torch.matmul(kg, qs.reshape(h * bt, n, d, 1)).reshape(h, bt, n * w).mul_(_scale);
            using var mask = torch.tensor(allowed, [1, bt, n * w]);
            scores = scores.masked_fill(mask.logical_not(), HeldScalars.NegativeInfinity);
            var probs = F.softmax(scores, -1).reshape(h * bt, 1, n * w);
            outputs.Add(torch.matmul(probs, vg).reshape(1, h, bt, d).MoveToOuterDisposeScope());
        }
        var z = outputs.Count == 1 ? outputs[0] : torch.cat(outputs.ToArray(), 2);
        return z.to(q.dtype);
    }

    public void Advance(long t) => _store.Advance(t);

    public void Compress() { }

    private static Tensor Float(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);

    public void Dispose()
    {
        _store.Dispose();
        foreach (var r in _reps) r?.Dispose();
        foreach (var p in _pending) p?.Dispose();
        _scale.Dispose();
    }
}
