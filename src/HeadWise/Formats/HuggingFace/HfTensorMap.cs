using HeadWise.Models;

namespace HeadWise.Formats.HuggingFace;

/// <summary>One canonical tensor as a Hugging Face (or ONNX) file stores it: name without the model./transformer./bert.
/// prefix, the transform to canonical [out, in], and an alternative name a tied embedding may be stored under.</summary>
internal sealed record HfTensor(string Canonical, string Stored, long[] Shape, StoredTransform Transform = StoredTransform.Copy, int Part = 0, int Parts = 1)
{
    public bool Required { get; init; } = true;
    public string? TiedStored { get; init; }

    /// <summary>The canonical shape this stored shape turns into, or null when the transform cannot apply to it.</summary>
    public long[]? CanonicalShape(long[] stored) => Transform switch
    {
        StoredTransform.Copy => stored,
        StoredTransform.Transpose => stored.Length == 2 ? [stored[1], stored[0]] : null,
        StoredTransform.SplitTranspose => stored.Length == 2 && stored[1] % Parts == 0 ? [stored[1] / Parts, stored[0]] : null,
        StoredTransform.SplitVector => stored.Length == 1 && stored[0] % Parts == 0 ? [stored[0] / Parts] : null,
        _ => null,
    };

    /// <summary>Rearranges the stored elements (<paramref name="src"/>, shape <paramref name="stored"/>) into canonical order.</summary>
    public void Apply(ReadOnlySpan<float> src, long[] stored, Span<float> dst)
    {
        switch (Transform)
        {
            case StoredTransform.Copy:
                src.CopyTo(dst);
                break;
            case StoredTransform.SplitVector:
                src.Slice(Part * dst.Length, dst.Length).CopyTo(dst);
                break;
            default:
                // dst[o, i] = src[i, Part*outDim + o]
                int rows = (int)stored[0], cols = (int)stored[1], outDim = cols / Parts, offset = Part * outDim;
                for (var o = 0; o < outDim; o++)
                {
                    var row = dst.Slice(o * rows, rows);
                    for (var i = 0; i < rows; i++) row[i] = src[i * cols + offset + o];
                }
                break;
        }
    }
}

/// <summary>The Hugging Face names of a family's tensors: <see cref="TensorLayout"/>'s HF columns.</summary>
internal static class HfTensorMap
{
    public static List<HfTensor> For(ModelSpec s, LinearBiases? biases) =>
        TensorLayout.For(s, biases).Where(t => t.HfName is not null)
            .Select(t => new HfTensor(t.Name, t.HfName!, t.Shape, t.HfTransform, t.HfPart, t.HfParts) { Required = t.Required, TiedStored = t.HfTiedName })
            .ToList();
}
