using System.Text;
using LLama;
using System.Reflection;
using LLama.Common;
using LLama.Native;

namespace HeadWise.Tests.Tokenizers;

/// <summary>llama.cpp (through LLamaSharp) loaded once on stories260K.gguf: the reference tokenization.</summary>
public sealed class LlamaCppOracle : IDisposable
{
    private readonly LLamaWeights _weights;

    public LlamaCppOracle()
    {
        _weights = LLamaWeights.LoadFromFile(new ModelParams(TestPaths.Stories260KGguf) { GpuLayerCount = 0, VocabOnly = true });
    }

    public int[] Tokenize(string text, bool addBos, bool special)
    {
        lock (_weights) return _weights.Tokenize(text, addBos, special, Encoding.UTF8).Select(t => (int)t).ToArray();
    }

    /// <summary>llama_detokenize with remove_special (drops leading BOS / trailing EOS) and without unparse_special.</summary>
    /// <remarks>LLamaSharp keeps the llama_vocab pointer type and this binding internal, so both are reached by reflection.</remarks>
    public unsafe string Detokenize(int[] ids)
    {
        lock (_weights)
        {
            var vocab = _weights.NativeHandle.Vocab;
            var vocabNative = vocab.GetType().GetProperty("VocabNative", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
            var detokenize = typeof(NativeApi).GetMethod("llama_detokenize", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;
            var tokens = ids.Select(i => (LLamaToken)i).ToArray();
            var buffer = new byte[ids.Length * 16 + 16];
            fixed (LLamaToken* t = tokens)
            fixed (byte* b = buffer)
            {
                object?[] args = [vocabNative.GetValue(vocab), Pointer.Box(t, typeof(LLamaToken*)), tokens.Length,
                    Pointer.Box(b, typeof(byte*)), buffer.Length, true, false];
                int n = (int)detokenize.Invoke(null, args)!;
                if (n < 0) throw new InvalidOperationException($"llama_detokenize needs {-n} bytes");
                return Encoding.UTF8.GetString(buffer, 0, n);
            }
        }
    }

    public void Dispose() => _weights.Dispose();
}
