using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// Scalars that live as long as the process. TorchSharp turns a number passed to a tensor op (masked_fill(m, -inf),
/// index_fill_(d, i, 0), pow(2), and square(), which it implements as pow(2)) into a temporary Scalar with a finalizer,
/// and nothing keeps that Scalar alive until the native call has read it: under allocation pressure (longheads' key
/// copies) the GC freed one mid-call and sweeps died in Scalar::toFloat or Scalar::equal. Hot paths pass these instead.
/// </summary>
public static class HeldScalars
{
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
    public static readonly Scalar Zero = 0f.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    public static readonly Scalar Half = 0.5.ToScalar();
    /// <summary>Floor for a norm before dividing by it.</summary>
    public static readonly Scalar NormFloor = 1e-12.ToScalar();
    /// <summary>Floor for a probability or attention sum before a log or a division.</summary>
    public static readonly Scalar ProbabilityFloor = 1e-30.ToScalar();

    /// <summary>a + b without a temporary Scalar: TorchSharp's + operator calls add(b, alpha: 1) with a fresh one
    /// (its - operator passes no alpha, so a - b needs no counterpart).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);
}
