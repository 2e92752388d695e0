using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// DELTA's cache (<see cref="DeltaPolicy"/>): every position is kept (a <see cref="FullKvCache"/>). Full layers attend
/// everything with the model's kernel. A Δ-layer attends everything too, and its attention probabilities, summed over
/// its heads, rank for each of this call's queries the positions it sees. Each sparse layer after it attends, per query,
/// the sinks, the most recent positions and the top-ranked rest up to its budget (one mask over the kept keys, so the
/// model's kernel and its hooks serve it). The ranking is refreshed at every Δ-layer of every forward call: in prefill
/// per query, in decoding at every step.
/// </summary>
public sealed class DeltaKvCache : IKvCache, IAttendedShare
{
    private readonly FullKvCache _store;
    private Tensor? _ranking; // [T, S] float32: the last Δ-layer's attention summed over its heads, this call's queries

    public DeltaKvCache(DeltaPolicy policy)
    {
        Policy = policy;
        _store = new FullKvCache(policy.Spec);
    }

    public DeltaPolicy Policy { get; }

    public long Length => _store.Length;
    public long Bytes => _store.Bytes;
    public long PeakBytes => _store.PeakBytes;
    public long MaxLength => _store.MaxLength;

    /// <summary>Over every sparse layer and query so far: keys attended, and keys the query could see.</summary>
    public long AttendedKeys { get; private set; }
    public long AvailableKeys { get; private set; }

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        var (keys, values) = _store.Append(layer, k, v);
        switch (Policy.Role(layer))
        {
            case DeltaPolicy.LayerRole.Selection:
                var ranking = attention.Probabilities(q, keys)[0].sum([0]); // [T, S]: summed over the heads
                _ranking?.Dispose();
                _ranking = ranking.DetachFromDisposeScope();
                return attention.Attend(layer, q, keys, values);
            case DeltaPolicy.LayerRole.Sparse:
                return attention.Attend(layer, q, keys, values, Mask(layer, attention.Start, q.shape[2], keys.shape[2]));
            default:
                return attention.Attend(layer, q, keys, values);
        }
    }

    /// <summary>[T, S] true where query i (position start + i) attends key j in sparse layer <paramref name="layer"/>.</summary>
    private Tensor Mask(int layer, long start, long t, long s)
    {
        var ranking = _ranking ?? throw new InvalidOperationException("delta: a sparse layer before any Δ-layer");
        var mask = new bool[t * s];
        var middleFrom = new long[t];
        var middleTo = new long[t];
        var take = new long[t];
        long most = 0;
        for (long i = 0; i < t; i++)
        {
            long visible = start + i + 1;
            var (sinks, recent, selected) = Policy.Split(layer, visible);
            for (long j = 0; j < sinks; j++) mask[i * s + j] = true;
            for (long j = visible - recent; j < visible; j++) mask[i * s + j] = true;
            middleFrom[i] = sinks;
            middleTo[i] = visible - recent;
            take[i] = selected;
            most = Math.Max(most, selected);
            AttendedKeys += sinks + recent + selected;
            AvailableKeys += visible;
        }
        if (most > 0)
        {
            // Rank only each query's middle: sinks, recent and future positions cannot be picked twice or early.
            var allowed = new bool[t * s];
            for (long i = 0; i < t; i++)
                for (long j = middleFrom[i]; j < middleTo[i]; j++) allowed[i * s + j] = true;
            using var middle = torch.tensor(allowed, [t, s]);
            using var scores = ranking.masked_fill(middle.logical_not(), HeldScalars.NegativeInfinity);
            using var top = scores.topk((int)most, dim: 1).indexes; // [T, most], best first
            var picked = top.data<long>().ToArray();
            for (long i = 0; i < t; i++)
                for (long r = 0; r < take[i]; r++) mask[i * s + picked[i * most + r]] = true;
        }
        return torch.tensor(mask, [t, s]);
    }

    public void Advance(long t) => _store.Advance(t);

    public void Compress() { }

    public void Dispose()
    {
        _store.Dispose();
        _ranking?.Dispose();
    }
}
