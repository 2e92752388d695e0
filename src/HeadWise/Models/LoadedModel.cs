using HeadWise.Tokenizers;

namespace HeadWise.Models;

/// <summary>A model ready to run: its description, forward pass and tokenizer, and where it came from.</summary>
public sealed class LoadedModel(string path, string format, Transformer transformer, ITokenizer tokenizer) : IDisposable
{
    public string Path { get; } = path;
    /// <summary>gguf, llama2c, safetensors, onnx.</summary>
    public string Format { get; } = format;
    public Transformer Transformer { get; } = transformer;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public ModelSpec Spec => Transformer.Spec;
    /// <summary>A short display name for titles and reports.</summary>
    public string DisplayName => string.IsNullOrEmpty(Spec.Name) ? System.IO.Path.GetFileNameWithoutExtension(Path) : Spec.Name;

    public void Dispose() => Transformer.Dispose();
}
