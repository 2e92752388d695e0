using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// Rotary position embedding with cos/sin tables, in either pairing layout. The tables cover the positions a run has
/// reached so far (at least <see cref="InitialPositions"/>), doubling when a forward pass goes further, up to the
/// model's context: a file that claims a 2^24-token context costs nothing until a run uses that many tokens.
/// Positions outside the context (past it, or negative, to rotate keys back) are computed when asked: a KV cache that
/// remaps positions (LongHeads, StreamingLLM past the context) rotates by any offset.
/// </summary>
public sealed class Rope : IDisposable
{
    /// <summary>Positions tabled up front (a few MB at most); more are added as runs reach them.</summary>
    public const int InitialPositions = 4096;

    private readonly double[] _invFreq;
    private readonly RopeLayout _layout;
    private Tensor _cos, _sin;  // [tabled positions, head_dim/2]
    private Tensor? _cis;       // cos + i sin [tabled positions, head_dim/2] (complex64), for the interleaved layout

    public Rope(ModelSpec spec, int maxPositions)
    {
        _layout = spec.Rope;
        int half = spec.HeadDim / 2;
        var invFreq = new double[half];
        for (int i = 0; i < half; i++) invFreq[i] = 1.0 / Math.Pow(spec.RopeTheta, 2.0 * i / spec.HeadDim);
        if (spec.RopeScaling is { } s) Scale(invFreq, s, spec);
        _invFreq = invFreq;
        MaxPositions = maxPositions;
        (_cos, _sin, _cis) = Tables(Math.Min(maxPositions, InitialPositions));
    }

    /// <summary>The model's context: the most positions the tables may grow to.</summary>
    public int MaxPositions { get; }

    /// <summary>Positions the tables cover now.</summary>
    public long TabledPositions => _cos.shape[0];

    private (Tensor Cos, Tensor Sin, Tensor? Cis) Tables(int positions)
    {
        int half = _invFreq.Length;
        var cos = new float[(long)positions * half];
        var sin = new float[(long)positions * half];
        for (int p = 0; p < positions; p++)
            for (int i = 0; i < half; i++)
            {
                double a = p * _invFreq[i];
                cos[(long)p * half + i] = (float)Math.Cos(a);
                sin[(long)p * half + i] = (float)Math.Sin(a);
            }
        // Built inside a forward pass's dispose scope when they grow: they outlive it.
        var c = torch.tensor(cos, [positions, half]).DetachFromDisposeScope();
        var si = torch.tensor(sin, [positions, half]).DetachFromDisposeScope();
        return (c, si, _layout == RopeLayout.Interleaved ? torch.complex(c, si).DetachFromDisposeScope() : null);
    }

    /// <summary>Makes the tables cover positions 0..<paramref name="positions"/>-1 (doubling, capped at <see cref="MaxPositions"/>).</summary>
    private void Cover(long positions)
    {
        if (positions <= TabledPositions) return;
        var grown = Tables((int)Math.Min(MaxPositions, Math.Max(positions, 2 * TabledPositions)));
        Dispose();
        (_cos, _sin, _cis) = grown;
    }

    private static void Scale(double[] invFreq, RopeScaling s, ModelSpec spec)
    {
        var divisors = s.Divisors(spec.HeadDim, spec.RopeTheta);
        for (int i = 0; i < invFreq.Length; i++) invFreq[i] /= divisors[i];
    }

    /// <summary>The cos and sin tables [tabled positions, head_dim/2] (float32), covering <paramref name="positions"/> positions (at most <see cref="MaxPositions"/>), and the pairing layout.</summary>
    internal (Tensor Cos, Tensor Sin, RopeLayout Layout) TablesCovering(long positions)
    {
        Cover(positions);
        return (_cos, _sin, _layout);
    }

    /// <summary>Rotates x [batch, heads, T, head_dim] whose tokens sit at positions start..start+T-1.</summary>
    public Tensor Apply(Tensor x, long start)
    {
        long t = x.shape[2];
        if (start < 0 || start + t > MaxPositions)
        {
            using var positions = torch.arange(start, start + t, dtype: ScalarType.Int64);
            return Apply(x, positions);
        }
        Cover(start + t);
        if (t == 1 && x.shape[0] == 1 && FusedDecode.OneRow(x, x.shape[1] * x.shape[3]))
            unsafe
            {
                // A decode step: the fused step's kernel (bit for bit the same numbers with or without hooks).
                long half = x.shape[3] / 2;
                var y = FusedDecode.Rotate(x, Runtime.TensorMemory.Address<float>(_cos) + start * half, Runtime.TensorMemory.Address<float>(_sin) + start * half, _layout);
                GC.KeepAlive(_cos);
                GC.KeepAlive(_sin);
                return y;
            }
        if (CanRotateAsComplex(x))
        {
            using var cis = _cis!.narrow(0, start, t);
            return RotateAsComplex(x, cis);
        }
        using var cos = _cos.narrow(0, start, t);
        using var sin = _sin.narrow(0, start, t);
        return Rotate(x, cos, sin);
    }

    /// <summary>Rotates x [batch, heads, T, head_dim] at explicit positions [T] (any integers; rotations compose, so
    /// rotating a rotated key by d moves it from position p to p + d).</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        if (positions.numel() > 0 && (positions.min().item<long>() < 0 || positions.max().item<long>() >= MaxPositions))
        {
            using var scope = torch.NewDisposeScope();
            // Angles in double precision: positions past the table can be large.
            var angles = positions.to(ScalarType.Float64).unsqueeze(1) * torch.tensor(_invFreq).unsqueeze(0);
            var (c, s) = (angles.cos().to(ScalarType.Float32), angles.sin().to(ScalarType.Float32));
            var rotated = CanRotateAsComplex(x) ? RotateAsComplex(x, torch.complex(c, s)) : Rotate(x, c, s);
            return rotated.MoveToOuterDisposeScope();
        }
        if (positions.numel() > 0) Cover(positions.max().item<long>() + 1);
        if (CanRotateAsComplex(x))
        {
            using var cis = _cis!.index_select(0, positions);
            return RotateAsComplex(x, cis);
        }
        using var cos = _cos.index_select(0, positions);
        using var sin = _sin.index_select(0, positions);
        return Rotate(x, cos, sin);
    }

    // view_as_complex needs float pairs that are adjacent and aligned: unit last stride, every other stride and the offset even.
    private bool CanRotateAsComplex(Tensor x) =>
        _cis is not null && x.dtype == ScalarType.Float32 && x.stride(-1) == 1 && x.storage_offset() % 2 == 0 &&
        Enumerable.Range(0, (int)x.dim() - 1).All(i => x.stride(i) % 2 == 0);

    /// <summary>
    /// The interleaved pairs (x0, x1) are the real and imaginary parts of a complex number, and the rotation is one
    /// complex product: a handful of tensor ops instead of a dozen, which matters in decode where each op costs
    /// microseconds of overhead on a one-token tensor.
    /// </summary>
    private static Tensor RotateAsComplex(Tensor x, Tensor cis)
    {
        using var scope = torch.NewDisposeScope();
        var z = torch.view_as_complex(x.unflatten(x.dim() - 1, [x.shape[^1] / 2, 2])).mul(cis);
        return torch.view_as_real(z).flatten(-2).MoveToOuterDisposeScope();
    }

    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = torch.NewDisposeScope();
        if (cos.dtype != x.dtype) { cos = cos.to(x.dtype); sin = sin.to(x.dtype); }   // bf16 training keeps bf16 activations
        long d = x.shape[^1];
        Tensor result;
        if (_layout == RopeLayout.Interleaved)
        {
            var pairs = x.unflatten(x.dim() - 1, [d / 2, 2]);
            var x0 = pairs.select(-1, 0);
            var x1 = pairs.select(-1, 1);
            result = torch.stack([x0 * cos - x1 * sin, (x0 * sin).Plus(x1 * cos)], -1).flatten(-2);
        }
        else
        {
            var x0 = x.narrow(-1, 0, d / 2);
            var x1 = x.narrow(-1, d / 2, d / 2);
            result = torch.cat([x0 * cos - x1 * sin, (x1 * cos).Plus(x0 * sin)], -1);
        }
        return result.MoveToOuterDisposeScope();
    }

    public void Dispose() { _cos.Dispose(); _sin.Dispose(); _cis?.Dispose(); }
}
