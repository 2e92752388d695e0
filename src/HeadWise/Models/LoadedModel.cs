using HeadWise.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>A model ready to run: its description, forward pass and tokenizer, and where it came from. It owns the weights the forward pass borrows.</summary>
public sealed class LoadedModel(string path, string format, Transformer transformer, ITokenizer tokenizer) : IDisposable
{
    /// <summary>Where the model was loaded from.</summary>
    public string Path { get; } = path;
    /// <summary>gguf, llama2c, safetensors, onnx.</summary>
    public string Format { get; } = format;
    /// <summary>The forward pass (hooks, caches: see <see cref="Heads.HookedRun"/>).</summary>
    public Transformer Transformer { get; } = transformer;
    /// <summary>The model's tokenizer.</summary>
    public ITokenizer Tokenizer { get; } = tokenizer;
    /// <summary>The architecture.</summary>
    public ModelSpec Spec => Transformer.Spec;
    /// <summary>
    /// A short name for titles and reports: the checkpoint's own name, or the file's name when the checkpoint names only its
    /// architecture (stories260K's GGUF says "llama").
    /// </summary>
    public string DisplayName => string.IsNullOrEmpty(Spec.Name) || Spec.Name == Spec.Architecture
        ? System.IO.Path.GetFileNameWithoutExtension(Path.TrimEnd('/', System.IO.Path.DirectorySeparatorChar)) : Spec.Name;

    /// <summary>
    /// <paramref name="text"/> as token ids [1, T] (int64), ready for <see cref="Models.Transformer.Forward"/>; a BOS token
    /// first when <paramref name="prependBos"/> (default: when the tokenizer adds one, as the model was trained).
    /// </summary>
    public Tensor ToTokens(string text, bool? prependBos = null)
    {
        var ids = Encode(text, prependBos);
        return torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count]);
    }

    /// <summary>Each token of <paramref name="text"/> as its own string (BOS first as for <see cref="ToTokens"/>).</summary>
    public string[] ToStrTokens(string text, bool? prependBos = null) => ToStrTokens(Encode(text, prependBos));

    /// <summary>Each token id as its own string, e.g. "▁Lily" or "&lt;s&gt;".</summary>
    public string[] ToStrTokens(IEnumerable<int> ids) => ids.Select(Tokenizer.TokenLabel).ToArray();

    /// <summary>Each token of a [T] or [1, T] token tensor as its own string.</summary>
    public string[] ToStrTokens(Tensor tokens)
    {
        if (tokens.dim() == 2 && tokens.shape[0] != 1) throw new HeadWiseException($"ToStrTokens takes one sequence; got a batch of {tokens.shape[0]}");
        return ToStrTokens(tokens.reshape(-1).to(ScalarType.Int64).data<long>().ToArray().Select(i => (int)i));
    }

    /// <summary>The text of token ids (special tokens left out).</summary>
    public string ToText(IEnumerable<int> ids) => Tokenizer.Decode(ids);

    private List<int> Encode(string text, bool? prependBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = Tokenizer.Encode(text, addBos: prependBos ?? Tokenizer.AddBosByDefault).ToList();
        if (ids.Count == 0) throw new HeadWiseException("the text encodes to no tokens");
        if (ids.Count > Spec.ContextLength) throw new HeadWiseException($"the text is {ids.Count} tokens but the model's context is {Spec.ContextLength}");
        return ids;
    }

    /// <summary>Frees the forward pass and the weights it borrowed.</summary>
    public void Dispose()
    {
        Transformer.Dispose();
        Transformer.Weights.Dispose();
    }
}
