using HeadWise.Models;

namespace HeadWise.Formats.Llama2c;

/// <summary>A llama2.c checkpoint as an <see cref="ITensorSource"/> plus the <see cref="ModelSpec"/> its header implies.</summary>
internal sealed class Llama2cTensorSource(Llama2cCheckpoint checkpoint) : ITensorSource
{
    public string SourcePath => checkpoint.Path;
    public IReadOnlyCollection<string> Names => checkpoint.Tensors.Select(t => t.Name).ToArray();
    public bool Contains(string name) => checkpoint.Contains(name);
    public long[] Shape(string name) => checkpoint.GetShape(name);
    public void ReadFloats(string name, Span<float> destination) => checkpoint.ReadFloats(name, destination);
    public void Dispose() => checkpoint.Dispose();

    /// <summary>llama2.c models: Llama blocks, adjacent-pair RoPE with theta 10000, RMSNorm eps 1e-5.</summary>
    public ModelSpec Spec()
    {
        var h = checkpoint.Header;
        var spec = new ModelSpec
        {
            Architecture = "llama",
            Name = System.IO.Path.GetFileNameWithoutExtension(checkpoint.Path),
            Layers = h.Layers, Dim = h.Dim, Heads = h.Heads, KvHeads = h.KvHeads, HeadDim = h.HeadSize,
            FfnDim = h.HiddenDim, VocabSize = h.VocabSize, ContextLength = h.SeqLen,
            TiedEmbeddings = h.SharedClassifier, Rope = RopeLayout.Interleaved,
        };
        spec.Validate(checkpoint.Path);
        return spec;
    }
}
