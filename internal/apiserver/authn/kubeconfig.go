package authn

import (
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes an admin kubeconfig for server (an https URL) whose
// context is named name. Credentials are embedded, so the file works when
// copied elsewhere.
func (p PKI) WriteKubeconfig(path, name, server string) error {
	read := func(f string) ([]byte, error) { return os.ReadFile(p.Path(f)) }
	ca, err := read(CACert)
	if err != nil {
		return err
	}
	cert, err := read(AdminCert)
	if err != nil {
		return err
	}
	key, err := read(AdminKey)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}
