package templates

import "strings"

// Secret is one type of secret found in a notice's items, named and
// explained in the message's language: what the recipient should rotate
// and how.
type Secret struct {
	// Type is the secret type as imported (password, api_key, ...).
	Type string
	// Label names the type for people (password, API-Schlüssel, ...).
	Label string
	// Advice says what to do about it, in one or two sentences.
	Advice string
}

// secretAdvice is the wording per language: a label and advice per secret
// type, and "" for the advice on a type the table does not know.
var secretAdvice = map[string]map[string][2]string{
	"en": {
		"password":          {"password", "Change the password everywhere it is used, starting with any account that shares it, and sign the account out of all its sessions."},
		"api_key":           {"API key", "Revoke the key, issue a new one and update the applications that use it; then check the old key's recent calls for anything you do not recognise."},
		"client_secret":     {"client secret", "Create a new client secret for the application (service principal), switch your applications to it, then delete the old secret."},
		"sas_token":         {"SAS token", "Regenerate the storage account key that signed the token, or revoke the stored access policy it uses (a SAS token cannot be revoked on its own); issue new tokens with a short expiry."},
		"private_key":       {"private key", "Generate a new key pair, replace the public key or certificate wherever it is trusted, and revoke the old one; treat anything signed or encrypted with it as exposed."},
		"recovery_code":     {"recovery code", "Generate new recovery codes (this invalidates the old ones) and review the account's sign-in history."},
		"token":             {"access token", "Revoke the token (sign out the session or delete the token) and issue a new one only if it is still needed."},
		"certificate":       {"certificate", "Revoke the certificate, have a new one issued with a new private key, and replace it wherever it is installed."},
		"aws_access_key":    {"AWS access key", "Deactivate the access key in IAM, create a new one for the user or role and update its applications, then delete the old key; review CloudTrail for its use."},
		"github_token":      {"GitHub token", "Revoke the token in GitHub (Settings, Developer settings, or the organization's credential list), issue a new one only if needed, and review the audit log for its use."},
		"slack_token":       {"Slack token", "Revoke the token in the Slack app's settings (or regenerate the app's tokens), reinstall the app if needed, and review the workspace's access logs."},
		"connection_string": {"connection string", "Change the database or storage password or key the connection string contains (regenerate a storage account key), update the applications, and review the server's connection log."},
		"webhook_url":       {"webhook URL", "Delete the webhook and create a new one: anyone holding the URL can post into the channel it targets."},
		"client_id":         {"client ID", "A client ID is not a secret on its own; rotate the secret or key it was sent with, if any."},
		"":                  {"", "Revoke or replace this secret, and review its recent use for anything you do not recognise."},
	},
	"de": {
		"password":          {"Passwort", "Ändern Sie das Passwort überall, wo es verwendet wird – zuerst bei Konten, die dasselbe Passwort nutzen –, und melden Sie alle aktiven Sitzungen des Kontos ab."},
		"api_key":           {"API-Schlüssel", "Widerrufen Sie den Schlüssel, stellen Sie einen neuen aus und hinterlegen Sie ihn in den Anwendungen, die ihn nutzen. Prüfen Sie anschließend die letzten Aufrufe mit dem alten Schlüssel auf Unbekanntes."},
		"client_secret":     {"Client-Secret", "Erstellen Sie für die Anwendung (Dienstprinzipal) ein neues Client-Secret, stellen Sie Ihre Anwendungen darauf um und löschen Sie danach das alte."},
		"sas_token":         {"SAS-Token", "Erneuern Sie den Speicherkontoschlüssel, mit dem das Token signiert wurde, oder widerrufen Sie die zugehörige gespeicherte Zugriffsrichtlinie – ein einzelnes SAS-Token lässt sich nicht widerrufen. Stellen Sie neue Token nur mit kurzer Gültigkeit aus."},
		"private_key":       {"privater Schlüssel", "Erzeugen Sie ein neues Schlüsselpaar, ersetzen Sie den öffentlichen Schlüssel bzw. das Zertifikat überall, wo ihm vertraut wird, und widerrufen Sie den alten. Was mit dem alten Schlüssel signiert oder verschlüsselt wurde, gilt als offengelegt."},
		"recovery_code":     {"Wiederherstellungscode", "Erzeugen Sie neue Wiederherstellungscodes (die alten werden dadurch ungültig) und prüfen Sie den Anmeldeverlauf des Kontos."},
		"token":             {"Zugriffstoken", "Widerrufen Sie das Token (Sitzung abmelden bzw. Token löschen) und stellen Sie nur dann ein neues aus, wenn es weiterhin gebraucht wird."},
		"certificate":       {"Zertifikat", "Sperren Sie das Zertifikat, lassen Sie ein neues mit neuem privatem Schlüssel ausstellen und tauschen Sie es überall aus, wo es installiert ist."},
		"aws_access_key":    {"AWS-Zugriffsschlüssel", "Deaktivieren Sie den Zugriffsschlüssel in IAM, erstellen Sie für den Benutzer bzw. die Rolle einen neuen, stellen Sie die Anwendungen darauf um und löschen Sie danach den alten. Prüfen Sie in CloudTrail, wofür er verwendet wurde."},
		"github_token":      {"GitHub-Token", "Widerrufen Sie das Token in GitHub (Einstellungen, Developer settings oder die Anmeldedatenliste der Organisation), stellen Sie nur bei Bedarf ein neues aus und prüfen Sie das Audit-Log auf seine Verwendung."},
		"slack_token":       {"Slack-Token", "Widerrufen Sie das Token in den Einstellungen der Slack-App (oder erneuern Sie die Tokens der App), installieren Sie die App bei Bedarf neu und prüfen Sie die Zugriffsprotokolle des Workspace."},
		"connection_string": {"Verbindungszeichenfolge", "Ändern Sie das Datenbank- bzw. Speicherpasswort oder den Schlüssel, den die Verbindungszeichenfolge enthält (Speicherkontoschlüssel neu erzeugen), passen Sie die Anwendungen an und prüfen Sie das Verbindungsprotokoll des Servers."},
		"webhook_url":       {"Webhook-URL", "Löschen Sie den Webhook und legen Sie einen neuen an: Wer die URL kennt, kann in den Kanal schreiben, auf den sie zeigt."},
		"client_id":         {"Client-ID", "Eine Client-ID allein ist kein Geheimnis; erneuern Sie das Secret oder den Schlüssel, mit dem sie gesendet wurde, falls vorhanden."},
		"":                  {"", "Widerrufen oder ersetzen Sie dieses Geheimnis und prüfen Sie, ob es zuletzt auf unbekannte Weise verwendet wurde."},
	},
	"fr": {
		"password":          {"mot de passe", "Changez ce mot de passe partout où il est utilisé, en commençant par les comptes qui le partagent, et fermez toutes les sessions ouvertes du compte."},
		"api_key":           {"clé d'API", "Révoquez la clé, générez-en une nouvelle et mettez à jour les applications qui l'utilisent\u00a0; vérifiez ensuite les appels récents faits avec l'ancienne clé."},
		"client_secret":     {"secret client", "Créez un nouveau secret client pour l'application (principal de service), basculez vos applications sur ce nouveau secret, puis supprimez l'ancien."},
		"sas_token":         {"jeton SAS", "Régénérez la clé du compte de stockage qui a signé le jeton, ou révoquez la stratégie d'accès stockée qu'il utilise (un jeton SAS ne peut pas être révoqué seul)\u00a0; n'émettez ensuite que des jetons de courte durée."},
		"private_key":       {"clé privée", "Générez une nouvelle paire de clés, remplacez la clé publique ou le certificat partout où il fait foi et révoquez l'ancienne clé\u00a0; considérez comme divulgué tout ce qui a été signé ou chiffré avec elle."},
		"recovery_code":     {"code de récupération", "Générez de nouveaux codes de récupération (les anciens deviennent alors inutilisables) et vérifiez l'historique des connexions du compte."},
		"token":             {"jeton d'accès", "Révoquez le jeton (déconnexion de la session ou suppression du jeton) et n'en émettez un nouveau que s'il reste nécessaire."},
		"certificate":       {"certificat", "Révoquez le certificat, faites-en émettre un nouveau avec une nouvelle clé privée et remplacez-le partout où il est installé."},
		"aws_access_key":    {"clé d'accès AWS", "Désactivez la clé d'accès dans IAM, créez-en une nouvelle pour l'utilisateur ou le rôle, mettez à jour ses applications, puis supprimez l'ancienne clé\u00a0; vérifiez son utilisation dans CloudTrail."},
		"github_token":      {"jeton GitHub", "Révoquez le jeton dans GitHub (Settings, Developer settings, ou la liste des identifiants de l'organisation), n'en émettez un nouveau que si nécessaire et vérifiez son utilisation dans le journal d'audit."},
		"slack_token":       {"jeton Slack", "Révoquez le jeton dans les paramètres de l'application Slack (ou régénérez les jetons de l'application), réinstallez l'application si nécessaire et vérifiez les journaux d'accès de l'espace de travail."},
		"connection_string": {"chaîne de connexion", "Changez le mot de passe ou la clé de base de données ou de stockage que contient la chaîne de connexion (régénérez la clé du compte de stockage), mettez à jour les applications et vérifiez le journal des connexions du serveur."},
		"webhook_url":       {"URL de webhook", "Supprimez le webhook et créez-en un nouveau\u00a0: quiconque détient l'URL peut publier dans le canal qu'elle vise."},
		"client_id":         {"identifiant client", "Un identifiant client n'est pas un secret à lui seul\u00a0; renouvelez le secret ou la clé envoyés avec lui, s'il y en a."},
		"":                  {"", "Révoquez ou remplacez ce secret et vérifiez qu'il n'a pas été utilisé récemment à votre insu."},
	},
	"ja": {
		"password":          {"パスワード", "このパスワードを使っているすべての場所で変更してください。同じパスワードを使い回しているアカウントを優先し、そのアカウントのセッションもすべてサインアウトしてください。"},
		"api_key":           {"APIキー", "キーを無効化して新しいキーを発行し、利用しているアプリケーションの設定を更新してください。そのうえで、古いキーによる最近の呼び出しに心当たりのないものがないか確認してください。"},
		"client_secret":     {"クライアントシークレット", "アプリケーション（サービスプリンシパル）の新しいクライアントシークレットを作成し、各アプリケーションを切り替えたうえで、古いシークレットを削除してください。"},
		"sas_token":         {"SASトークン", "トークンの署名に使われたストレージアカウントキーを再生成するか、トークンが使う保存済みアクセスポリシーを取り消してください（SASトークンは単体では無効化できません）。新しいトークンは有効期限を短くして発行してください。"},
		"private_key":       {"秘密鍵", "新しい鍵ペアを生成し、公開鍵または証明書を信頼しているすべての場所で差し替え、古い鍵を失効させてください。古い鍵で署名・暗号化したものは漏えいしたものとして扱ってください。"},
		"recovery_code":     {"リカバリーコード", "リカバリーコードを再発行し（古いコードは使えなくなります）、アカウントのサインイン履歴を確認してください。"},
		"token":             {"アクセストークン", "トークンを無効化（セッションのサインアウトまたはトークンの削除）し、引き続き必要な場合に限り新しいトークンを発行してください。"},
		"certificate":       {"証明書", "証明書を失効させ、新しい秘密鍵で証明書を再発行したうえで、インストールされているすべての場所で差し替えてください。"},
		"aws_access_key":    {"AWSアクセスキー", "IAMでアクセスキーを無効化し、ユーザーまたはロールに新しいキーを作成してアプリケーションを更新したうえで、古いキーを削除してください。CloudTrailでその利用を確認してください。"},
		"github_token":      {"GitHubトークン", "GitHub（Settings、Developer settings、または組織の資格情報一覧）でトークンを無効化し、必要な場合に限り新しいトークンを発行して、監査ログでその利用を確認してください。"},
		"slack_token":       {"Slackトークン", "Slackアプリの設定でトークンを無効化（またはアプリのトークンを再生成）し、必要に応じてアプリを再インストールして、ワークスペースのアクセスログを確認してください。"},
		"connection_string": {"接続文字列", "接続文字列に含まれるデータベースまたはストレージのパスワードやキーを変更（ストレージアカウントキーを再生成）し、アプリケーションを更新して、サーバーの接続ログを確認してください。"},
		"webhook_url":       {"Webhook URL", "Webhookを削除して新しく作成してください。URLを知っていれば誰でも対象のチャンネルに投稿できます。"},
		"client_id":         {"クライアントID", "クライアントIDだけでは秘密情報ではありません。一緒に送られたシークレットやキーがあれば、それを変更してください。"},
		"":                  {"", "このシークレットを無効化または差し替え、最近の利用に心当たりのないものがないか確認してください。"},
	},
}

// SecretLabel names a secret type in the locale's language; a type the
// table does not know is shown with spaces for underscores.
func SecretLabel(locale, secretType string) string {
	if w, ok := secretAdvice[language(locale)][secretType]; ok && secretType != "" {
		return w[0]
	}
	return strings.ReplaceAll(secretType, "_", " ")
}

// SecretAdvice says, in the locale's language, what to do about an exposed
// secret of the given type; unknown types get the general advice.
func SecretAdvice(locale, secretType string) string {
	table := secretAdvice[language(locale)]
	if w, ok := table[secretType]; ok && secretType != "" {
		return w[1]
	}
	return table[""][1]
}

// Secrets names each secret type and says what to rotate, in the locale's
// language, in the order given.
func Secrets(locale string, types []string) []Secret {
	if len(types) == 0 {
		return nil
	}
	out := make([]Secret, len(types))
	for i, t := range types {
		out[i] = Secret{Type: t, Label: SecretLabel(locale, t), Advice: SecretAdvice(locale, t)}
	}
	return out
}
