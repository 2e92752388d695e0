using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace HeadWise.Models;

/// <summary>
/// Widening bf16 to float32 in one operation per 16 values. Read as 32-bit pairs, a block of 32 bf16 values holds the
/// even elements in the low halves and the odd ones in the high halves: shifting a pair up by 16 bits gives the even
/// element as a float exactly, masking off the low half gives the odd one (a bf16 is a float's upper half). The float32
/// operand of a product is laid out once to match (<see cref="Split"/>: per block of 32, the 16 evens, then the 16
/// odds), instead of spreading every bf16 block out with two shuffles and two shifts.
/// </summary>
internal static unsafe class Bf16Order
{
    /// <summary>Elements per block.</summary>
    public const int Block = 32;

    private static readonly Vector512<uint> HighHalves = Vector512.Create(0xFFFF0000u);

    /// <summary>The even elements of 16 bf16 pairs, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Evens(Vector512<uint> pairs) => Vector512.ShiftLeft(pairs, 16).AsSingle();

    /// <summary>The odd elements of 16 bf16 pairs, as floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Odds(Vector512<uint> pairs) => (pairs & HighHalves).AsSingle();

    /// <summary>x [n] (n a multiple of <see cref="Block"/>) → per block its evens, then its odds.</summary>
    public static void Split(float* x, float* to, long n)
    {
        for (long b = 0; b < n; b += Block)
            for (int m = 0; m < Block / 2; m++)
            {
                to[b + m] = x[b + 2 * m];
                to[b + Block / 2 + m] = x[b + 2 * m + 1];
            }
    }

    /// <summary>The inverse of <see cref="Split"/>.</summary>
    public static void Merge(float* from, float* to, long n)
    {
        for (long b = 0; b < n; b += Block)
            for (int m = 0; m < Block / 2; m++)
            {
                to[b + 2 * m] = from[b + m];
                to[b + 2 * m + 1] = from[b + Block / 2 + m];
            }
    }

    /// <summary>Rounds each float to the nearest bf16 (ties to even, NaN kept), as libtorch's cast does; still floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Round(float* x, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0x7FFFu);
            var one = Vector256.Create(1u);
            var high = Vector256.Create(0xFFFF0000u);
            for (; i + 8 <= n; i += 8)
            {
                var f = Vector256.Load(x + i);
                var u = f.AsUInt32();
                var r = ((u + half + (Vector256.ShiftRightLogical(u, 16) & one)) & high).AsSingle();
                Vector256.ConditionalSelect(Vector256.Equals(f, f), r, f).Store(x + i);
            }
        }
        for (; i < n; i++) x[i] = Round(x[i]);
    }

    /// <summary>The nearest bf16 (ties to even), as libtorch's cast rounds; still a float.</summary>
    public static float Round(float x)
    {
        if (float.IsNaN(x)) return x;
        uint u = BitConverter.SingleToUInt32Bits(x);
        u += 0x7FFFu + ((u >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(u & 0xFFFF0000u);
    }
}
