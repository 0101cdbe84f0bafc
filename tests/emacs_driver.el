;;; emacs_driver.el --- drives eglot in a batch Emacs for tests/test_emacs.py  -*- lexical-binding: t -*-
;;
;;   emacs --batch -Q -l tests/emacs_driver.el
;;
;; Configured by environment variables set by pytest:
;;   CROSSNAV_EMACS_OUT      the JSON results file (always written, even on errors)
;;   CROSSNAV_EMACS_FILE     the Python file to open
;;   CROSSNAV_EMACS_PYTHON   python with crossnav installed  } eglot-server-programs for python-mode:
;;   CROSSNAV_EMACS_DB       the index                        } PYTHON -m crossnav.index.cli serve
;;   CROSSNAV_EMACS_WRAP     the wrapped language server      }   --db DB --wrap WRAP
;;   CROSSNAV_EMACS_SERVER   (optional) a JSON array replacing that whole server command
;;   CROSSNAV_EMACS_CURSORS  JSON {case: [0-based line, code-point column]} for definition,
;;                           references, hover and completion (computed by pytest from the fixture)
;;   CROSSNAV_EMACS_CONNECT_TIMEOUT, CROSSNAV_EMACS_TIMEOUT  seconds: connecting; the whole run
;;   CROSSNAV_EMACS_STATE    (optional) user-emacs-directory, so nothing is written to ~/.emacs.d
;;
;; The setup is the one in docs/editors.md: one eglot-server-programs entry, crossnav wrapping the
;; usual Python server. Every wait is bounded (eglot's connect timeout, jsonrpc's request timeout,
;; explicit deadlines and a watchdog that ends Emacs), so a silent server fails the test.

(require 'json)
(require 'cl-lib)
(require 'subr-x)

;; Debian's elpa-eglot lives outside the default load-path under -Q.
(dolist (dir (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))
  (when (file-directory-p dir) (add-to-list 'load-path dir)))

(defvar driver-results nil "Alist of results, written as JSON.")
(defvar driver-errors nil "Alist (case . message).")

(defun driver-env (name &optional default)
  (let ((v (getenv name)))
    (if (and v (not (string-empty-p v))) v
      (or default (error "driver: environment variable %s is not set" name)))))

(defun driver-put (key value) (push (cons key value) driver-results))

(defun driver-write ()
  (let ((json-encoding-pretty-print nil)
        (coding-system-for-write 'utf-8-unix))
    (with-temp-file (driver-env "CROSSNAV_EMACS_OUT")
      (insert (json-encode
               `((errors . ,(or driver-errors (make-hash-table)))
                 (emacs . ,emacs-version)
                 ,@(reverse driver-results)))))))

(defmacro driver-case (name &rest body)
  "Run BODY; record its value under NAME, or the error it signalled."
  (declare (indent 1))
  `(condition-case err
       (driver-put ,name (progn ,@body))
     (error (push (cons ,name (error-message-string err)) driver-errors))))

(defun driver-wait (seconds pred what)
  "Process output until PRED is true; an error after SECONDS."
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall pred))
      (when (> (float-time) deadline)
        (error "timed out after %ss waiting for %s" seconds what))
      (accept-process-output nil 0.05))))

;; The whole run is bounded: whatever blocks, this timer fires while Emacs waits for the server.
(run-at-time (string-to-number (driver-env "CROSSNAV_EMACS_TIMEOUT" "60")) nil
             (lambda ()
               (push (cons 'watchdog "the driver ran out of time") driver-errors)
               (driver-write)
               (kill-emacs 3)))

(setq user-emacs-directory (file-name-as-directory
                             (or (getenv "CROSSNAV_EMACS_STATE") (make-temp-file "crossnav-emacs-" t)))
      make-backup-files nil
      auto-save-default nil
      create-lockfiles nil
      inhibit-message nil)

(defvar driver-cursors (let ((json-object-type 'alist) (json-key-type 'symbol) (json-array-type 'list))
                         (json-read-from-string (driver-env "CROSSNAV_EMACS_CURSORS" "{}"))))

(defun driver-goto (case)
  "Point at CASE's (0-based line, code-point column) in the current buffer."
  (let ((pos (or (alist-get case driver-cursors) (error "no cursor for %s" case))))
    (goto-char (point-min))
    (forward-line (nth 0 pos))
    (forward-char (nth 1 pos))))

(defun driver-where ()
  "The current buffer's file, 0-based line and column at point."
  `((file . ,(buffer-file-name)) (line . ,(1- (line-number-at-pos))) (col . ,(current-column))))

(defun driver-xref-json (xrefs)
  (mapcar (lambda (x)
            (let ((loc (xref-item-location x)))
              `((file . ,(xref-location-group loc))
                (line . ,(1- (xref-location-line loc)))
                (col . ,(xref-file-location-column loc)))))
          xrefs))

(condition-case err
    (progn
      (require 'eglot)
      (driver-put 'eglot (or (ignore-errors (package-get-version))
                             (and (locate-library "eglot")
                                  (with-temp-buffer
                                    (insert-file-contents (replace-regexp-in-string
                                                           "\\.elc\\'" ".el" (locate-library "eglot")))
                                    (and (re-search-forward "^;; Version: \\(.*\\)$" nil t)
                                         (match-string 1))))))
      (setq eglot-connect-timeout (string-to-number (driver-env "CROSSNAV_EMACS_CONNECT_TIMEOUT" "20"))
            eglot-sync-connect t          ; M-x eglot returns once connected or timed out
            eglot-autoreconnect nil
            jsonrpc-default-request-timeout 10)
      ;; the docs/editors.md entry, with this checkout's python and the test index
      (let ((server (if (getenv "CROSSNAV_EMACS_SERVER")
                        (append (json-read-from-string (getenv "CROSSNAV_EMACS_SERVER")) nil)
                      (list (driver-env "CROSSNAV_EMACS_PYTHON") "-m" "crossnav.index.cli" "serve"
                            "--db" (driver-env "CROSSNAV_EMACS_DB")
                            "--wrap" (driver-env "CROSSNAV_EMACS_WRAP")))))
        (add-to-list 'eglot-server-programs `((python-mode python-ts-mode) . ,server)))

      (find-file (driver-env "CROSSNAV_EMACS_FILE"))
      (unless (eq major-mode 'python-mode) (error "%s opened in %s" buffer-file-name major-mode))
      (let ((buf (current-buffer)))
        ;; M-x eglot: contact guessed from eglot-server-programs, project from project.el (git)
        (driver-case 'connect
          (let ((this-command 'eglot))
            (call-interactively #'eglot))
          (driver-wait 5 (lambda () (with-current-buffer buf eglot--managed-mode)) "eglot to manage the buffer")
          (let ((server (eglot-current-server)))
            `((server . ,(plist-get (eglot--server-info server) :name))
              (project . ,(project-root (eglot--project server)))
              (managed . ,(and eglot--managed-mode t))
              (xref_backend . ,(symbol-name (xref-find-backend)))
              (capf . ,(and (memq #'eglot-completion-at-point completion-at-point-functions) t)))))

        (when (eglot-current-server)
          ;; M-x xref-find-definitions (M-.): one answer, so xref jumps there
          (driver-case 'definition
            (with-current-buffer buf
              (switch-to-buffer buf)
              (driver-goto 'definition)
              (let* ((backend (xref-find-backend))
                     (found (xref-backend-definitions backend (xref-backend-identifier-at-point backend)))
                     (this-command 'xref-find-definitions))
                (call-interactively #'xref-find-definitions)
                `((count . ,(length found)) ,@(driver-where)))))

          ;; eldoc's hover source (what eldoc shows at point)
          (driver-case 'hover
            (with-current-buffer buf
              (switch-to-buffer buf)
              (driver-goto 'hover)
              (let (got)
                (unless (eglot-hover-eldoc-function (lambda (info &rest _) (setq got (or info ""))))
                  (error "the server offers no hover"))
                (driver-wait 10 (lambda () got) "the hover answer")
                (substring-no-properties got))))

          ;; what M-? (xref-find-references) lists
          (driver-case 'references
            (with-current-buffer buf
              (switch-to-buffer buf)
              (driver-goto 'references)
              (let ((backend (xref-find-backend)))
                (driver-xref-json
                 (xref-backend-references backend (xref-backend-identifier-at-point backend))))))

          ;; completion-at-point: eglot's capf, i.e. the wrapped server's completions
          (driver-case 'completion
            (with-current-buffer buf
              (switch-to-buffer buf)
              (driver-goto 'completion)
              (let ((capf (run-hook-wrapped 'completion-at-point-functions
                                            (lambda (f) (let ((r (funcall f))) (and (consp r) r))))))
                (unless capf (error "no completion-at-point function answered"))
                (pcase-let ((`(,start ,_end ,table . ,_) capf))
                  (let ((prefix (buffer-substring-no-properties start (point))))
                    `((prefix . ,prefix)
                      (candidates . ,(vconcat (mapcar #'substring-no-properties
                                                      (all-completions prefix table))))))))))

          (driver-case 'shutdown
            (with-current-buffer buf
              (let ((server (eglot-current-server)))
                (with-timeout (10 (error "timed out shutting down"))
                  (eglot-shutdown server))
                `((stopped . ,(not (jsonrpc-running-p server))))))))))
  (error (push (cons 'driver (error-message-string err)) driver-errors)))

(driver-write)
(kill-emacs 0)
